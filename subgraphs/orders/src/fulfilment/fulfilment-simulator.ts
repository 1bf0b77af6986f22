/**
 * A pretend warehouse for demos (FULFILMENT_SIMULATOR=true; off by default): ships CONFIRMED
 * orders after FULFILMENT_SHIP_AFTER_MS and delivers SHIPPED ones after FULFILMENT_DELIVER_AFTER_MS,
 * through the same transitions (and events) as an admin would, so live tracking can be watched.
 */
import { randomBytes } from 'node:crypto';
import type { ServiceDeps } from '@shop/platform';
import { OrderStatus } from '../domain/order-status';
import type { OrdersRepository } from '../persistence/orders.repository';
import type { OrderTransitions } from '../saga/order-transitions';

const BATCH = 20;
export const SIMULATED_CARRIER = 'Sandbox Parcel Service';

export class FulfilmentSimulator {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly repo: OrdersRepository,
    private readonly transitions: OrderTransitions,
    private readonly shipAfterMs: number,
    private readonly deliverAfterMs: number,
  ) {}

  /** One round: ship what waited long enough, deliver what travelled long enough. Returns how many orders moved. */
  async tick(now: Date = new Date()): Promise<number> {
    return this.deps.transaction(async (tx) => {
      const toShip = await this.repo.lockStaleInStatus(tx, OrderStatus.Confirmed, new Date(now.getTime() - this.shipAfterMs), BATCH);
      for (const order of toShip) {
        await this.transitions.apply(tx, order, { to: 'SHIPPED', carrier: SIMULATED_CARRIER, trackingNumber: `SPS${randomBytes(6).toString('hex').toUpperCase()}` }, now);
      }
      const toDeliver = await this.repo.lockStaleInStatus(tx, OrderStatus.Shipped, new Date(now.getTime() - this.deliverAfterMs), BATCH);
      for (const order of toDeliver) await this.transitions.apply(tx, order, { to: 'DELIVERED' }, now);
      return toShip.length + toDeliver.length;
    });
  }
}
