export { createOrdersService, ordersService } from './service';
export type { OrdersOptions, OrdersParts } from './setup';
