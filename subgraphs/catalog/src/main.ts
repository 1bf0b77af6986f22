/** Runs the catalog subgraph alone (Kubernetes): `src/main.ts` or `src/main.ts migrate`. */
import { runStandalone } from '@shop/platform';
import { catalogService } from './service';

void runStandalone(catalogService);
