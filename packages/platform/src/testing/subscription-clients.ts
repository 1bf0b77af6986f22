/**
 * Test clients of the gateway's subscription transports over HTTP, as real clients speak them:
 * graphql-sse's client (distinct or single connection) and a multipart reader (meros, as Apollo
 * Client's own parser does) sending Apollo Client's Accept header.
 */
import { createClient } from 'graphql-sse';
import { meros } from 'meros/browser';

/** The HTTP subscription transports of the gateway. */
export type HttpSubscriptionTransport = 'sse-distinct' | 'sse-single' | 'multipart';
export const HTTP_SUBSCRIPTION_TRANSPORTS: readonly HttpSubscriptionTransport[] = ['sse-distinct', 'sse-single', 'multipart'];

/** Apollo Client's Accept header for a subscription. */
export const MULTIPART_SUBSCRIPTION_ACCEPT = 'multipart/mixed;boundary="graphql";subscriptionSpec="1.0",application/json';

/** What one client saw of one subscription. */
export interface HttpSubscription<T = any> {
  readonly events: Array<{ data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, any> }>; extensions?: Record<string, any> }>;
  /** Multipart heartbeats received (`{}` parts). */
  heartbeats: number;
  completed: boolean;
  /** A transport failure (HTTP status, network error), if any. */
  error: unknown;
  /** Ends the subscription and its connection. */
  close(): Promise<void>;
}

/** The cursor an event carries (`extensions.cursor`): resume after it with {@link resumeAfter}. */
export function cursorOf(event: { extensions?: Record<string, unknown> | undefined } | undefined): string | undefined {
  const cursor = event?.extensions?.['cursor'];
  return typeof cursor === 'string' ? cursor : undefined;
}

/**
 * The subscribe request's `extensions` that resume after `cursor` (the last event a client got):
 * the events it missed that the log still holds come first, in order, then live ones. For any
 * transport: graphql-ws `subscribe` payload, SSE and multipart request body.
 */
export function resumeAfter(cursor: string): { resumeFrom: string } {
  return { resumeFrom: cursor };
}

/** Subscribes over one HTTP transport; `token` goes in `Authorization: Bearer …`; `extensions` (e.g. {@link resumeAfter}) in the request. */
export function subscribeOverHttp<T = any>(transport: HttpSubscriptionTransport, url: string, query: string, variables: Record<string, unknown> = {}, token?: string, extensions?: Record<string, unknown>): HttpSubscription<T> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const sub: HttpSubscription<T> = { events: [], heartbeats: 0, completed: false, error: undefined, close: async () => undefined };
  if (transport === 'multipart') {
    const abort = new AbortController();
    const done = (async () => {
      const res = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept: MULTIPART_SUBSCRIPTION_ACCEPT }, body: JSON.stringify({ query, variables, ...(extensions ? { extensions } : {}) }), signal: abort.signal });
      const parts = await meros<Record<string, any>>(res);
      if (!(Symbol.asyncIterator in parts)) {
        // Not multipart: a refusal as JSON (what Apollo Client reports as an error).
        sub.error = { status: res.status, body: await res.json() };
        return;
      }
      for await (const part of parts) {
        const body = part.body;
        if (!part.json || Object.keys(body).length === 0) {
          sub.heartbeats++;
          continue;
        }
        if (body['payload']) sub.events.push(body['payload']);
        if (body['errors']) sub.error = body['errors'];
      }
      sub.completed = true;
    })().catch((error: unknown) => {
      if (!abort.signal.aborted) sub.error = error;
    });
    sub.close = async () => {
      abort.abort();
      await done;
    };
    return sub;
  }
  const client = createClient({ url, headers, singleConnection: transport === 'sse-single', retryAttempts: 0 });
  const unsubscribe = client.subscribe<T>(
    { query, variables, ...(extensions ? { extensions } : {}) },
    {
      next: (value) => void sub.events.push(value as HttpSubscription<T>['events'][number]),
      error: (error) => void (sub.error = error),
      complete: () => void (sub.completed = true),
    },
  );
  sub.close = async () => {
    unsubscribe();
    client.dispose();
  };
  return sub;
}
