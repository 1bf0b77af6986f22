/** Runs the users subgraph alone (Kubernetes): `tsx src/main.ts` or `tsx src/main.ts migrate`. */
import { runStandalone } from '@shop/platform';
import { usersService } from './service';

void runStandalone(usersService);
