export { createOrdersService, ordersService } from './service';
export { ordersEnv } from './config';
