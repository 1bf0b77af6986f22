/**
 * One client process of scale.bench.ts: bare graphql-transport-ws connections (the `ws` package,
 * no graphql-ws client: a benchmark client should cost the machine as little as it can), one
 * `stockChanged` subscription each, bound to this process's loopback source addresses
 * (`localAddress`: one source address has ~28 000 ephemeral ports towards one gateway port).
 * Records, per connection and per round, which stock levels arrived (missing and duplicated
 * deliveries) and each event's latency from the stock change (`updatedAt`, stamped in inventory's
 * transaction; one machine, one clock) to its arrival here. Driven over IPC by scale.bench.ts.
 */
import WebSocket from 'ws';

export type ClientCommand =
  | { cmd: 'open'; url: string; productIds: string[]; connections: number; localAddresses: string[] }
  | { cmd: 'reset' }
  | { cmd: 'stats'; expected: Record<string, number> }
  | { cmd: 'drop'; count: number }
  | { cmd: 'resume'; url: string; missed: number }
  | { cmd: 'resumed'; expected: Record<string, number[]> }
  | { cmd: 'close' };

export interface RoundStats {
  /** Deliveries that arrived (duplicates included). */
  readonly received: number;
  /** Expected deliveries that did not arrive. */
  readonly missing: number;
  /** Deliveries of a stock level the connection had already received. */
  readonly duplicated: number;
  /** Connections that are not open (closed by the gateway or never opened). */
  readonly closed: number;
  /** Change → arrival latencies (ms) of the round. */
  readonly latencies: number[];
}

export interface ResumeStats {
  /** Clients dropped (their sockets terminated, as a phone in a tunnel). */
  readonly dropped: number;
  /** Dropped clients that had a cursor to resume from. */
  readonly withCursor: number;
  /** Dropped clients whose new connection was acknowledged (after up to 5 retried handshakes). */
  readonly reconnected: number;
  /** Handshakes retried on reconnecting (closed before connection_ack, as graphql-ws clients retry). */
  readonly retries: number;
  /** Clients that got exactly the expected events: each once, in order, nothing else. */
  readonly complete: number;
  /** Clients that got every expected event at least once (complete ones and those with extras). */
  readonly everyEvent: number;
  /** Clients with at least one expected event missing, and the missing events over all clients. */
  readonly clientsMissing: number;
  readonly missing: number;
  /** Clients with an event twice (or one from before the drop again), and those deliveries. */
  readonly clientsDuplicated: number;
  readonly duplicated: number;
  /** Clients whose events (first arrivals) came in another order than the changes. */
  readonly outOfOrder: number;
  /** Clients whose resume ended with CURSOR_EXPIRED, and with any other error (codes counted in `errors`). */
  readonly cursorExpired: number;
  readonly otherErrors: number;
  readonly errors: Record<string, number>;
  /** Clients whose new connection is not open at the end. */
  readonly closed: number;
  /** Per client, ms from its resubscribe to the arrival of the events it missed (those that got them). */
  readonly replayMs: number[];
}

const QUERY = 'subscription($ids: [ID!]!) { stockChanged(productIds: $ids) { productId available updatedAt product { name } } }';

interface Connection {
  socket: WebSocket | undefined;
  readonly productId: string;
  readonly localAddress: string;
  /** Stock levels received this round (`available@updatedAt`). */
  seen: Set<string>;
  received: number;
  /** `available` of each event since the last reset (the resume check). */
  levels: number[];
  cursor: string | undefined;
  /** Error codes the gateway answered with (an `error` message, or a `next` with errors) since the last reset. */
  errors: string[];
  /** When the resuming subscribe went out, and when the events missed while away had all arrived. */
  resubscribedAt: number | undefined;
  replayedAt: number | undefined;
}

const connections: Connection[] = [];
/** Why connections failed (error code → count). */
const failures = new Map<string, number>();
let latencies: number[] = [];

interface ErrorPayload {
  readonly message: string;
  readonly path?: ReadonlyArray<string | number>;
  readonly extensions?: { readonly code?: unknown; readonly serviceName?: unknown };
}
/** An error's code, with where it happened (`stockChanged.product`, a subgraph) when it says. */
const codeOf = (error: ErrorPayload): string =>
  [typeof error.extensions?.code === 'string' ? error.extensions.code : error.message, error.path?.join('.'), typeof error.extensions?.serviceName === 'string' ? error.extensions.serviceName : undefined].filter(Boolean).join(' at ');

/** Events a resumed client missed while away (set by `resume`): its replay is done when that many arrived. */
let missedWhileAway = Number.POSITIVE_INFINITY;

function reply(message: unknown): void {
  process.send?.(message);
}

function connect(url: string, connection: Connection, resumeFrom?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, 'graphql-transport-ws', { localAddress: connection.localAddress, perMessageDeflate: false });
    connection.socket = socket;
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      resolve(ok);
    };
    socket.on('open', () => socket.send('{"type":"connection_init","payload":{}}'));
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as {
        type: string;
        payload?: { data?: { stockChanged?: { available: number; updatedAt: string } }; errors?: ErrorPayload[]; extensions?: { cursor?: unknown } } | ErrorPayload[];
      };
      switch (message.type) {
        case 'connection_ack': {
          const payload = { query: QUERY, variables: { ids: [connection.productId] }, ...(resumeFrom ? { extensions: { resumeFrom } } : {}) };
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload }));
          if (resumeFrom) connection.resubscribedAt = Date.now();
          settle(true);
          return;
        }
        case 'error':
          if (Array.isArray(message.payload)) connection.errors.push(...message.payload.map(codeOf));
          return;
        case 'next': {
          if (!message.payload || Array.isArray(message.payload)) return;
          if (message.payload.errors) connection.errors.push(...message.payload.errors.map(codeOf));
          const level = message.payload.data?.stockChanged;
          if (!level) return;
          latencies.push(Date.now() - Date.parse(level.updatedAt));
          connection.received++;
          const key = `${level.available}@${level.updatedAt}`;
          connection.seen.add(key);
          connection.levels.push(level.available);
          if (connection.levels.length === missedWhileAway && connection.resubscribedAt !== undefined) connection.replayedAt = Date.now();
          if (typeof message.payload.extensions?.cursor === 'string') connection.cursor = message.payload.extensions.cursor;
          return;
        }
        case 'ping':
          socket.send('{"type":"pong"}');
          return;
        default:
          return;
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      failures.set(error.code ?? error.message, (failures.get(error.code ?? error.message) ?? 0) + 1);
      settle(false);
    });
    socket.on('close', (code: number) => {
      if (!settled) failures.set(`close ${code}`, (failures.get(`close ${code}`) ?? 0) + 1);
      settle(false);
    });
  });
}

/** Handshakes retried so far. */
let retried = 0;

/**
 * Connects, retrying a connection closed before its connection_ack (on a starved machine
 * graphql-ws's 3 s connection_init timeout, 4408) after a second, up to 5 times, as graphql-ws
 * clients retry it. The subscribe goes out only once acknowledged, so a retry never subscribes twice.
 */
async function connectRetrying(url: string, c: Connection, resumeFrom?: string): Promise<boolean> {
  for (let attempt = 0; attempt <= 5; attempt++) {
    if (await connect(url, c, resumeFrom)) return true;
    if (attempt === 5) break;
    retried++;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  return false;
}

async function open(command: Extract<ClientCommand, { cmd: 'open' }>): Promise<void> {
  let failed = 0;
  const start = connections.length;
  const added: Connection[] = [];
  for (let i = 0; i < command.connections; i++) {
    const n = start + i;
    added.push({ socket: undefined, productId: command.productIds[n % command.productIds.length]!, localAddress: command.localAddresses[n % command.localAddresses.length]!, seen: new Set(), received: 0, levels: [], cursor: undefined, errors: [], resubscribedAt: undefined, replayedAt: undefined });
  }
  connections.push(...added);
  // 100 handshakes at a time per process: the gateway accepts them at its pace.
  const before = retried;
  for (let i = 0; i < added.length; i += 100) {
    const results = await Promise.all(added.slice(i, i + 100).map(async (c) => connectRetrying(command.url, c)));
    failed += results.filter((ok) => !ok).length;
  }
  reply({ opened: connections.length, failed, retries: retried - before, reasons: Object.fromEntries(failures) });
}

function roundStats(expected: Record<string, number>, of: readonly Connection[]): RoundStats {
  let received = 0;
  let missing = 0;
  let duplicated = 0;
  let closed = 0;
  for (const c of of) {
    received += c.received;
    duplicated += c.received - c.seen.size;
    missing += Math.max(0, (expected[c.productId] ?? 0) - c.seen.size);
    if (c.socket?.readyState !== WebSocket.OPEN) closed++;
  }
  return { received, missing, duplicated, closed, latencies };
}

function reset(): void {
  latencies = [];
  for (const c of connections) {
    c.seen = new Set();
    c.received = 0;
    c.levels = [];
    c.errors = [];
    c.resubscribedAt = undefined;
    c.replayedAt = undefined;
  }
}

const dropped: Connection[] = [];
let droppedWithCursor = 0;
let reconnected = 0;
let resumeRetries = 0;

/**
 * What each dropped client got since it resumed, against `expected` (per product, the `available`
 * of each change made since the drop, in order): exactly those, once each, in order, is complete;
 * an event from before the drop again counts as duplicated.
 */
function resumeStats(expected: Record<string, number[]>): ResumeStats {
  let complete = 0;
  let everyEvent = 0;
  let clientsMissing = 0;
  let missing = 0;
  let clientsDuplicated = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let cursorExpired = 0;
  let otherErrors = 0;
  let closed = 0;
  const errors: Record<string, number> = {};
  const replayMs: number[] = [];
  for (const c of dropped) {
    const want = expected[c.productId] ?? [];
    const wanted = new Set(want);
    const got = new Set(c.levels);
    const lacking = want.filter((level) => !got.has(level)).length;
    // The first arrival of each expected event; anything else is twice the same event, or one the
    // client had before it dropped (not a change made since).
    const firsts = c.levels.filter((level, i) => wanted.has(level) && c.levels.indexOf(level) === i);
    const extra = c.levels.length - firsts.length;
    const ordered = firsts.every((level, i) => i === 0 || want.indexOf(level) > want.indexOf(firsts[i - 1]!));
    if (lacking) clientsMissing++;
    missing += lacking;
    if (extra) clientsDuplicated++;
    duplicated += extra;
    if (!ordered) outOfOrder++;
    if (!lacking) everyEvent++;
    if (!lacking && !extra && ordered && c.errors.length === 0) complete++;
    if (c.errors.some((e) => e.startsWith('CURSOR_EXPIRED'))) cursorExpired++;
    else if (c.errors.length) otherErrors++;
    for (const code of c.errors) errors[code] = (errors[code] ?? 0) + 1;
    if (c.socket?.readyState !== WebSocket.OPEN) closed++;
    if (c.replayedAt !== undefined && c.resubscribedAt !== undefined) replayMs.push(c.replayedAt - c.resubscribedAt);
  }
  return { dropped: dropped.length, withCursor: droppedWithCursor, reconnected, retries: resumeRetries, complete, everyEvent, clientsMissing, missing, clientsDuplicated, duplicated, outOfOrder, cursorExpired, otherErrors, errors, closed, replayMs };
}

process.on('message', (command: ClientCommand) => {
  switch (command.cmd) {
    case 'open':
      void open(command);
      return;
    case 'reset':
      reset();
      reply({ reset: true });
      return;
    case 'stats':
      reply(roundStats(command.expected, connections));
      return;
    case 'drop': {
      // The resume scenario: these clients go away (as a phone in a tunnel), keeping their last cursor.
      for (const c of connections.slice(0, command.count)) {
        c.socket?.terminate();
        dropped.push(c);
      }
      droppedWithCursor = dropped.filter((c) => c.cursor).length;
      reply({ dropped: dropped.length, withCursor: droppedWithCursor });
      return;
    }
    case 'resume': {
      // Back from the tunnel: every dropped client at once, each subscribing after its last cursor.
      reset();
      missedWhileAway = command.missed;
      const before = retried;
      void Promise.all(dropped.map(async (c) => connectRetrying(command.url, c, c.cursor))).then((results) => {
        reconnected = results.filter(Boolean).length;
        resumeRetries = retried - before;
        reply({ reconnected, retries: resumeRetries });
      });
      return;
    }
    case 'resumed':
      reply(resumeStats(command.expected));
      return;
    case 'close':
      for (const c of connections) c.socket?.terminate();
      setTimeout(() => process.exit(0), 200);
      return;
  }
});
