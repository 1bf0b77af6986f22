export { catalogService } from './service';
export type { DemoCategory, DemoProduct } from './demo-data';
export { DEMO_CATEGORIES, DEMO_PRODUCTS } from './demo-data';
