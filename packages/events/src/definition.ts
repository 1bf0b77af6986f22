import type { z } from 'zod';

/** A versioned, typed event definition: `type` like `orders.order-placed.v1`, carried on `topic`. */
export interface EventDefinition<T> {
  readonly type: string;
  readonly topic: string;
  readonly schema: z.ZodType<T>;
}

/** Declares an event. Every event of one aggregate shares one topic, keyed by the aggregate id, so they stay in order. */
export function defineEvent<T>(type: string, topic: string, schema: z.ZodType<T>): EventDefinition<T> {
  return { type, topic, schema };
}

/** The payload type of an event definition. */
export type DataOf<E> = E extends EventDefinition<infer T> ? T : never;
