/** Runs the orders subgraph alone (Kubernetes): `src/main.ts` or `src/main.ts migrate`. */
import { runStandalone } from '@shop/platform';
import { ordersService } from './service';

void runStandalone(ordersService);
