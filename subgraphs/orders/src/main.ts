/** Runs the orders subgraph alone (Kubernetes): `tsx src/main.ts` or `tsx src/main.ts migrate`. */
import { loadConfig, runStandalone } from '@shop/platform';
import { ordersEnv } from './config';
import { ordersService } from './service';

let settings;
try {
  // Validated here so that a bad orders setting stops the process with one line naming it.
  settings = loadConfig(ordersEnv);
} catch (error) {
  process.stderr.write(`orders: ${(error as Error).message}\n`);
  process.exit(1);
}
void runStandalone(ordersService, settings);
