/** Runs the inventory subgraph alone (Kubernetes): `src/main.ts` or `src/main.ts migrate`. */
import { runStandalone } from '@shop/platform';
import { inventoryService } from './service';

void runStandalone(inventoryService);
