/**
 * The scope of a live handler: the bus log position of the message it is handling (where
 * subscription cursors come from) and, while replaying, where its publishes are captured. The
 * event consumers set it (events/consumers.ts), pub/sub and replay read it (pubsub.ts, resume.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** Where a message sits in the bus log. */
export interface LivePosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** What a pub/sub publish inside a live handler learns of its message, and where a replay captures it. */
export interface LiveScope {
  readonly position: LivePosition;
  /** Set while replaying: the publish is handed here instead of going to subscribers. */
  readonly capture?: (topic: PropertyKey, payload: object, occurredAt: string | Date | undefined) => void;
}

const scopes = new AsyncLocalStorage<LiveScope>();

/** Runs `fn` (a live handler) with its message's position. */
export function inLiveScope<T>(scope: LiveScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

/** The scope of the live handler running now, if any. */
export function currentLiveScope(): LiveScope | undefined {
  return scopes.getStore();
}
