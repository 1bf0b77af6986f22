/*
 * The subscription view: a log of every event a running subscription received, each with the time
 * it arrived, under GraphiQL's response pane (whose editor shows only the latest one). States:
 *   connecting  the graphql-ws socket is opening (connection_init sent, no ack yet)
 *   waiting     the server acknowledged the connection and the subscribe message is out: "subscribed,
 *               waiting for events" until the first one arrives
 *   receiving   at least one event
 *   ended       the server completed the subscription
 *   stopped     the user stopped it (GraphiQL's stop button, or a new run)
 *   error       the subscription failed (GraphQL errors, a refused connection, a dropped socket)
 * Browser code, bundled by bundle.ts with esbuild (not type-checked by the project's tsc).
 */
import * as React from 'react';

const e = React.createElement;

/** Keeps the last MAX_EVENTS events of the latest subscription (a browser tab, not an archive). */
export const MAX_EVENTS = 500;

/** The log of the latest subscription, as an external store for React's useSyncExternalStore. */
export function createSubscriptionLog() {
  let state = null; // { id, operation, status, events: [{ n, at, payload }], dropped, error }
  let nextId = 1;
  const listeners = new Set();
  const emit = () => listeners.forEach((listener) => listener());
  const update = (id, change) => {
    if (!state || state.id !== id) return; // an older subscription: its log was replaced
    state = { ...state, ...change(state) };
    emit();
  };
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    snapshot: () => state,
    /** A new subscription starts: the log is reset. Answers the recorder of this subscription. */
    start(operation) {
      const id = nextId++;
      state = { id, operation, status: 'connecting', events: [], dropped: 0, error: null };
      emit();
      return {
        connected: () => update(id, (s) => (s.status === 'connecting' ? { status: 'waiting' } : {})),
        event: (payload) =>
          update(id, (s) => {
            if (isOver(s.status)) return {};
            // Errors and no data: the server refused or broke the subscription (graphql-ws sends
            // such a result as a `next` message, then completes): the error state, not an event.
            if (payload && Array.isArray(payload.errors) && payload.errors.length > 0 && (payload.data === null || payload.data === undefined)) {
              return { status: 'error', error: describeError(payload.errors) };
            }
            const events = s.events.concat({ n: s.events.length + s.dropped + 1, at: new Date(), payload });
            const excess = Math.max(0, events.length - MAX_EVENTS);
            return { status: 'receiving', events: excess ? events.slice(excess) : events, dropped: s.dropped + excess };
          }),
        ended: () => update(id, (s) => (isOver(s.status) ? {} : { status: 'ended' })),
        stopped: () => update(id, (s) => (isOver(s.status) ? {} : { status: 'stopped' })),
        failed: (error) => update(id, (s) => (isOver(s.status) ? {} : { status: 'error', error: describeError(error) })),
      };
    },
    clear() {
      if (state && isOver(state.status)) {
        state = null;
        emit();
      }
    },
  };
}

function isOver(status) {
  return status === 'ended' || status === 'stopped' || status === 'error';
}

/** graphql-ws rejects with an array of GraphQL errors, an Error, or a CloseEvent. */
export function describeError(error) {
  if (Array.isArray(error)) return error.map((item) => describeError(item)).join('; ');
  if (error && typeof error === 'object') {
    if (typeof error.code === 'number' && 'reason' in error) {
      return `connection closed (${error.code}${error.reason ? `: ${error.reason}` : ''})`;
    }
    if (typeof error.message === 'string') {
      const code = error.extensions && error.extensions.code;
      return code ? `${error.message} (${code})` : error.message;
    }
  }
  return String(error);
}

function pad(value, width) {
  return String(value).padStart(width, '0');
}

/** Local wall-clock time with milliseconds: 18:02:03.123 */
export function clock(date) {
  return `${pad(date.getHours(), 2)}:${pad(date.getMinutes(), 2)}:${pad(date.getSeconds(), 2)}.${pad(date.getMilliseconds(), 3)}`;
}

function headline(state) {
  const count = state.events.length + state.dropped;
  const events = `${count} event${count === 1 ? '' : 's'}`;
  const what = state.operation ? `Subscription ${state.operation}` : 'Subscription';
  switch (state.status) {
    case 'connecting':
      return `${what}: connecting…`;
    case 'waiting':
      return `${what}: subscribed, waiting for events…`;
    case 'receiving':
      return `${what}: subscribed, ${events} received`;
    case 'ended':
      return `${what}: ended by the server after ${events}`;
    case 'stopped':
      return `${what}: stopped after ${events}`;
    default:
      return `${what}: failed after ${events}`;
  }
}

/** The panel under the response pane; renders nothing until a subscription runs. */
export function SubscriptionLogView({ log }) {
  const state = React.useSyncExternalStore(log.subscribe, log.snapshot);
  const listRef = React.useRef(null);
  const count = state ? state.events.length : 0;
  React.useEffect(() => {
    const list = listRef.current;
    if (list) list.scrollTop = list.scrollHeight; // follow the newest event
  }, [count]);
  if (!state) return null;
  return e(
    'section',
    { className: 'shop-subscription-log', 'data-status': state.status, 'aria-label': 'Subscription events', 'aria-live': 'polite' },
    e(
      'header',
      { className: 'shop-subscription-log-header' },
      e('span', { className: 'shop-subscription-log-dot', 'aria-hidden': 'true' }),
      e('span', { className: 'shop-subscription-log-status' }, headline(state)),
      isOver(state.status) ? e('button', { type: 'button', className: 'shop-subscription-log-clear', onClick: () => log.clear() }, 'Clear') : null,
    ),
    state.error ? e('p', { className: 'shop-subscription-log-error', role: 'alert' }, state.error) : null,
    state.dropped ? e('p', { className: 'shop-subscription-log-note' }, `${state.dropped} older events not shown (the log keeps the last ${MAX_EVENTS}).`) : null,
    e(
      'ol',
      { className: 'shop-subscription-log-events', ref: listRef },
      state.events.map((event) =>
        e(
          'li',
          { key: event.n, className: 'shop-subscription-log-event', 'data-errors': event.payload && event.payload.errors ? 'true' : undefined },
          e('span', { className: 'shop-subscription-log-n' }, `#${event.n}`),
          e('time', { dateTime: event.at.toISOString() }, clock(event.at)),
          e('pre', null, JSON.stringify(event.payload, null, 2)),
        ),
      ),
    ),
  );
}
