/** Runs the inventory subgraph alone (Kubernetes): `tsx src/main.ts` or `tsx src/main.ts migrate`. */
import { runStandalone } from '@shop/platform';
import { inventoryService } from './service';

void runStandalone(inventoryService);
