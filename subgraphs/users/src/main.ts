/** Runs the users subgraph alone (Kubernetes): `src/main.ts` or `src/main.ts migrate`. */
import { runStandalone } from '@shop/platform';
import { usersService } from './service';

void runStandalone(usersService);
