/**
 * What an operator does on this machine: `npm start` with its spans sent to the local trace
 * viewer (Zipkin, started by scripts/zipkin/zipkin.sh), one checkout through the gateway while a
 * stock subscription is open, then that checkout's trace opened in Zipkin's API and its log lines
 * read from the shop's output (piped, so JSON).
 *
 * The trace has spans of the gateway, orders and inventory, each under its own service name
 * although they share one process, database query spans (pg instrumentation), the event hops and
 * the subscription delivery (the stock change the reservation caused, from inventory's live
 * listener to the gateway's send). The log lines of that request (its request id) come from
 * several services and carry its trace id.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { eventually, freePortBlock } from '@shop/platform/testing';
import { postGraphQL } from '../support/harness';

jest.setTimeout(240_000);

const exec = promisify(execFile);
const root = path.resolve(__dirname, '../..');

const dataDir = path.join(root, '.data', `e2e-trace-${randomBytes(3).toString('hex')}`);
/** The shop's ports (gateway, subgraphs, Postgres at base + 10) and Zipkin's, drawn in beforeAll. */
let base = 0;
let zipkinPort = 0;
let zipkinEnv: NodeJS.ProcessEnv = {};

interface ZipkinSpan {
  readonly traceId: string;
  readonly id: string;
  readonly parentId?: string;
  readonly name: string;
  readonly kind?: string;
  readonly localEndpoint?: { readonly serviceName?: string };
  readonly tags?: Readonly<Record<string, string>>;
}

let shop: ChildProcess | undefined;
let output = '';

function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    /* already gone */
  }
}

beforeAll(async () => {
  mkdirSync(dataDir, { recursive: true });
  base = Number(process.env['TEST_SHOP_PORT_BASE'] ?? (await freePortBlock(30)));
  zipkinPort = Number(process.env['TEST_ZIPKIN_PORT'] ?? base + 20);
  zipkinEnv = { ...process.env, ZIPKIN_PORT: String(zipkinPort), ZIPKIN_DATA_DIR: path.join(dataDir, 'zipkin') };
  await exec('bash', ['scripts/zipkin/zipkin.sh', 'start', '--background'], { cwd: root, env: zipkinEnv, timeout: 180_000 });
  shop = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      PORT: String(base),
      SUBGRAPH_PORT_BASE: String(base + 1),
      EMBEDDED_PG_PORT: String(base + 10),
      ADMIN_PASSWORD: 'admin-password-for-tests',
      LOG_LEVEL: 'debug',
      OTEL_TRACES_EXPORTER: 'zipkin',
      OTEL_EXPORTER_ZIPKIN_ENDPOINT: `http://127.0.0.1:${zipkinPort}/api/v2/spans`,
      OTEL_BSP_SCHEDULE_DELAY: '300',
    },
    detached: true, // its own process group, stopped as a whole
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  shop.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  shop.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const child = shop;
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`npm start exited (${code})`))));
  await Promise.race([eventually(() => output.includes('Shop supergraph is up'), 150_000, 250), exited]).catch((error: unknown) => {
    throw new Error(`${String(error)}\n--- npm start output (tail) ---\n${output.slice(-4_000)}`);
  });
  void exited.catch(() => undefined);
});

afterAll(async () => {
  if (shop) {
    const child = shop;
    const exited = new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    killTree(child, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    killTree(child, 'SIGKILL');
  }
  await exec('bash', ['scripts/zipkin/zipkin.sh', 'stop'], { cwd: root, env: zipkinEnv, timeout: 60_000 }).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

it('should show one checkout as one trace in Zipkin, each service under its own name, with its logs sharing its ids', async () => {
  const url = `http://127.0.0.1:${base}/graphql`;
  const registered = await postGraphQL(url, 'mutation Register($input: RegisterInput!) { register(input: $input) { accessToken } }', {
    input: { email: `trace-${randomUUID().slice(0, 8)}@example.com`, username: `trace${randomUUID().slice(0, 8)}`, password: 'correct horse battery staple' },
  });
  const token: string = registered.data?.register?.accessToken;
  expect(token).toEqual(expect.any(String));
  const product = await eventually(async () => {
    const r = await postGraphQL(url, '{ products(first: 50) { edges { node { id inventory { available } } } } }');
    return (r.data?.products.edges ?? []).map((e: any) => e.node).find((n: any) => n.inventory?.available >= 3) ?? null;
  }, 60_000, 500);

  // A stock subscription on the product: the reservation of the checkout changes its stock.
  const ws = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  const levels: number[] = [];
  const stopped = new Promise<void>((resolve, reject) => {
    ws.subscribe({ query: 'subscription Stock($ids: [ID!]!) { stockChanged(productIds: $ids) { available } }', variables: { ids: [product.id] } }, { next: (m: any) => void levels.push(m.data?.stockChanged?.available), error: reject, complete: resolve });
  });
  void stopped.catch(() => undefined);
  await new Promise((r) => setTimeout(r, 1_500)); // the subscribe reaches inventory

  // The client starts the trace (and names the request). Orders learns products from catalog
  // events, so the first attempts may not know the product yet: each attempt has its own ids.
  const placed = await eventually(async () => {
    const attempt = { traceId: randomBytes(16).toString('hex'), requestId: `load-test-${randomUUID()}` };
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, traceparent: `00-${attempt.traceId}-${randomBytes(8).toString('hex')}-01`, 'x-request-id': attempt.requestId },
      body: JSON.stringify({
        query: 'mutation Checkout($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }',
        variables: { input: { items: [{ productId: product.id, quantity: 1 }], shippingAddress: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' }, payment: { token: 'tok_visa' }, idempotencyKey: randomUUID() } },
      }),
    });
    const body = (await res.json()) as { data?: { placeOrder?: { id: string } } };
    return body.data?.placeOrder?.id ? { ...attempt, answeredId: res.headers.get('x-request-id') } : null;
  }, 60_000, 1_000);
  expect(placed.answeredId).toBe(placed.requestId);
  await eventually(() => levels.length > 0 || null, 30_000, 200);
  await ws.dispose();

  // The whole trace in Zipkin: the saga's hops and the subscription delivery, batched every 300 ms.
  const wanted = (spans: ZipkinSpan[]): boolean => {
    const has = (service: string, test: (s: ZipkinSpan) => boolean): boolean => spans.some((s) => s.localEndpoint?.serviceName === service && test(s));
    return (
      has('gateway', (s) => s.kind === 'SERVER') &&
      has('orders', (s) => s.kind === 'SERVER') &&
      has('inventory', (s) => s.kind === 'CONSUMER') &&
      has('orders', (s) => s.kind === 'CONSUMER') &&
      has('inventory', (s) => s.name.includes('subscription event')) &&
      has('gateway', (s) => s.name.includes('upstream event')) &&
      has('gateway', (s) => s.name.endsWith(' send'))
    );
  };
  let last: ZipkinSpan[] = [];
  const spans = await eventually(async () => {
    const res = await fetch(`http://127.0.0.1:${zipkinPort}/api/v2/trace/${placed.traceId}`);
    last = res.ok ? ((await res.json()) as ZipkinSpan[]) : [];
    return wanted(last) ? last : null;
  }, 60_000, 500).catch((error: unknown) => {
    throw new Error(`${String(error)}\nspans in Zipkin: ${JSON.stringify(last.map((s) => `${s.localEndpoint?.serviceName}: ${s.kind ?? ''} ${s.name}`))}`);
  });
  const services = new Set(spans.map((s) => s.localEndpoint?.serviceName));
  for (const name of ['gateway', 'orders', 'inventory']) expect(services).toContain(name);
  // Nothing under the process's default name: every span found its service.
  expect([...services].filter((s) => !['gateway', 'users', 'catalog', 'inventory', 'orders'].includes(String(s)))).toEqual([]);
  // Database queries are spans of the service that ran them.
  const query = (s: ZipkinSpan): boolean => s.kind === 'CLIENT' && (s.tags?.['db.system.name'] ?? s.tags?.['db.system']) === 'postgresql';
  expect(spans.some((s) => s.localEndpoint?.serviceName === 'orders' && query(s))).toBe(true);
  expect(spans.some((s) => s.localEndpoint?.serviceName === 'inventory' && query(s))).toBe(true);
  // @apollo/gateway's own spans (planning, fetches) are the gateway's.
  expect(spans.filter((s) => s.name.startsWith('gateway.')).map((s) => s.localEndpoint?.serviceName)).toEqual(expect.arrayContaining(['gateway']));
  expect(spans.filter((s) => s.name.startsWith('gateway.') && s.localEndpoint?.serviceName !== 'gateway')).toEqual([]);
  // One tree: every span's parent is in the trace, but the client's root.
  const ids = new Set(spans.map((s) => s.id));
  expect(spans.filter((s) => s.parentId && !ids.has(s.parentId)).map((s) => s.name)).toHaveLength(1);
  // The delivery descends from inventory's subscription event span.
  const byId = new Map(spans.map((s) => [s.id, s]));
  const upstream = spans.find((s) => s.localEndpoint?.serviceName === 'gateway' && s.name.includes('upstream event'))!;
  expect(byId.get(upstream.parentId ?? '')?.localEndpoint?.serviceName).toBe('inventory');

  // The request's log lines, as npm start prints them piped: JSON, with its ids, from several services.
  const lines = output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { service?: string; request_id?: string; trace_id?: string; msg?: string });
  const ofRequest = lines.filter((l) => l.request_id === placed.requestId);
  const logServices = new Set(ofRequest.map((l) => l.service));
  for (const name of ['gateway', 'orders', 'inventory']) expect(logServices).toContain(name);
  expect(ofRequest.filter((l) => l.trace_id !== placed.traceId)).toEqual([]);
});
