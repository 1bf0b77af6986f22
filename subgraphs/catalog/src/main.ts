/** Runs the catalog subgraph alone (Kubernetes): `tsx src/main.ts` or `tsx src/main.ts migrate`. */
import { runStandalone } from '@shop/platform';
import { catalogService } from './service';

void runStandalone(catalogService);
