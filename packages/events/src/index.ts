export * from './common';
export * from './catalog.events';
export * from './inventory.events';
export * from './orders.events';
export * from './users.events';
