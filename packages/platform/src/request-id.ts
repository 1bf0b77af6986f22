/**
 * The request id: one per operation at the edge, carried wherever the operation goes, so its log
 * lines can be found together in every service. The gateway takes the client's `x-request-id`
 * (when it is a sane token) or makes one; it travels to the subgraphs as that header, into every
 * outbox event's `meta` (and so to its consumers, their own events, and the subscription events
 * they publish), beside the W3C trace context. Log lines written while it is active carry
 * `request_id` (logger.ts). Works with tracing off: it lives in its own AsyncLocalStorage.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';

export const REQUEST_ID_HEADER = 'x-request-id';

const store = new AsyncLocalStorage<string>();
const SANE = /^[A-Za-z0-9._:-]{8,128}$/;

/** The active request id, if any. */
export function currentRequestId(): string | undefined {
  return store.getStore();
}

/** Runs `fn` with `id` as the active request id. */
export function withRequestId<T>(id: string, fn: () => T): T {
  return store.run(id, fn);
}

/** The request id a caller sent (header or event meta), when it is a sane token; else a new one when `orNew`. */
export function requestIdFrom(carrier: Readonly<Record<string, string | string[] | undefined>>, orNew: true): string;
export function requestIdFrom(carrier: Readonly<Record<string, string | string[] | undefined>>, orNew?: false): string | undefined;
export function requestIdFrom(carrier: Readonly<Record<string, string | string[] | undefined>>, orNew = false): string | undefined {
  const sent = carrier[REQUEST_ID_HEADER];
  const value = Array.isArray(sent) ? sent[0] : sent;
  if (value && SANE.test(value)) return value;
  return orNew ? randomUUID() : undefined;
}

/**
 * Makes the listeners later added to `emitter` run with the request id active now. A request's
 * body arrives in socket callbacks, outside the middleware that set it: bound like this, the body
 * parser's callbacks (and the whole GraphQL execution after them) keep it.
 */
export function bindRequestId(emitter: EventEmitter): void {
  const id = store.getStore();
  if (id === undefined) return;
  const bound = new WeakMap<(...args: any[]) => void, (...args: any[]) => void>();
  const wrap = (listener: (...args: any[]) => void): ((...args: any[]) => void) => {
    let b = bound.get(listener);
    if (!b) {
      b = (...args: any[]) => store.run(id, () => listener.apply(emitter, args));
      bound.set(listener, b);
    }
    return b;
  };
  for (const method of ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener'] as const) {
    const original = emitter[method].bind(emitter);
    emitter[method] = ((event: string | symbol, listener: (...args: any[]) => void) => original(event, wrap(listener))) as never;
  }
  for (const method of ['off', 'removeListener'] as const) {
    const original = emitter[method].bind(emitter);
    emitter[method] = ((event: string | symbol, listener: (...args: any[]) => void) => original(event, bound.get(listener) ?? listener)) as never;
  }
}
