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
  | { cmd: 'resume'; url: string }
  | { cmd: 'resumed'; expected: Record<string, number> }
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
  /** Dropped clients that had a cursor to resume from. */
  readonly withCursor: number;
  /** Clients that got every expected event exactly once, in order. */
  readonly complete: number;
  readonly missing: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
}

const QUERY = 'subscription($ids: [ID!]!) { stockChanged(productIds: $ids) { productId available updatedAt product { name } } }';

interface Connection {
  socket: WebSocket | undefined;
  readonly productId: string;
  readonly localAddress: string;
  /** Stock levels received this round (`available@updatedAt`). */
  seen: Set<string>;
  received: number;
  /** `available` of each event since the last resume (order check). */
  levels: number[];
  cursor: string | undefined;
}

const connections: Connection[] = [];
/** Why connections failed (error code → count). */
const failures = new Map<string, number>();
let latencies: number[] = [];

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
      const message = JSON.parse(data.toString()) as { type: string; payload?: { data?: { stockChanged?: { available: number; updatedAt: string } }; extensions?: { cursor?: unknown } } };
      switch (message.type) {
        case 'connection_ack': {
          const payload = { query: QUERY, variables: { ids: [connection.productId] }, ...(resumeFrom ? { extensions: { resumeFrom } } : {}) };
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload }));
          settle(true);
          return;
        }
        case 'next': {
          const level = message.payload?.data?.stockChanged;
          if (!level) return;
          latencies.push(Date.now() - Date.parse(level.updatedAt));
          connection.received++;
          const key = `${level.available}@${level.updatedAt}`;
          connection.seen.add(key);
          connection.levels.push(level.available);
          if (typeof message.payload?.extensions?.cursor === 'string') connection.cursor = message.payload.extensions.cursor;
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

async function open(command: Extract<ClientCommand, { cmd: 'open' }>): Promise<void> {
  let failed = 0;
  const start = connections.length;
  const added: Connection[] = [];
  for (let i = 0; i < command.connections; i++) {
    const n = start + i;
    added.push({ socket: undefined, productId: command.productIds[n % command.productIds.length]!, localAddress: command.localAddresses[n % command.localAddresses.length]!, seen: new Set(), received: 0, levels: [], cursor: undefined });
  }
  connections.push(...added);
  // 100 handshakes at a time per process: the gateway accepts them at its pace. A connection
  // closed before its connection_ack (on a starved machine graphql-ws's 3 s connection_init
  // timeout, 4408) is retried after a second, up to 5 times, as graphql-ws clients retry it.
  let retries = 0;
  const opening = async (c: Connection): Promise<boolean> => {
    for (let attempt = 0; attempt <= 5; attempt++) {
      if (await connect(command.url, c)) return true;
      retries++;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    retries--;
    return false;
  };
  for (let i = 0; i < added.length; i += 100) {
    const results = await Promise.all(added.slice(i, i + 100).map(opening));
    failed += results.filter((ok) => !ok).length;
  }
  reply({ opened: connections.length, failed, retries, reasons: Object.fromEntries(failures) });
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
  }
}

const dropped: Connection[] = [];

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
      reply({ dropped: dropped.length, withCursor: dropped.filter((c) => c.cursor).length });
      return;
    }
    case 'resume': {
      reset();
      void Promise.all(dropped.map(async (c) => connect(command.url, c, c.cursor))).then((results) => reply({ resumed: results.filter(Boolean).length }));
      return;
    }
    case 'resumed': {
      let complete = 0;
      let missing = 0;
      let duplicated = 0;
      let outOfOrder = 0;
      for (const c of dropped) {
        const want = command.expected[c.productId] ?? 0;
        missing += Math.max(0, want - c.seen.size);
        duplicated += c.received - c.seen.size;
        const ordered = c.levels.every((level, i) => i === 0 || level > c.levels[i - 1]!);
        if (!ordered) outOfOrder++;
        if (c.seen.size === want && c.received === want && ordered) complete++;
      }
      const stats: ResumeStats = { withCursor: dropped.filter((c) => c.cursor).length, complete, missing, duplicated, outOfOrder };
      reply(stats);
      return;
    }
    case 'close':
      for (const c of connections) c.socket?.terminate();
      setTimeout(() => process.exit(0), 200);
      return;
  }
});
