/** Runs the orders subgraph alone (Kubernetes): `tsx src/main.ts` or `tsx src/main.ts migrate`. */
import { runStandalone } from '@shop/platform';
import { ordersService } from './service';

void runStandalone(ordersService);
