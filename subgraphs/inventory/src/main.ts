/** Runs the inventory subgraph alone (Kubernetes): `tsx src/main.ts` or `tsx src/main.ts migrate`. */
import { loadConfig, runStandalone } from '@shop/platform';
import { inventoryEnv } from './config';
import { inventoryService } from './service';

let extra: Record<string, unknown>;
try {
  extra = loadConfig(inventoryEnv);
} catch (error) {
  process.stderr.write(`inventory: ${(error as Error).message}\n`);
  process.exit(1);
}
void runStandalone(inventoryService, extra);
