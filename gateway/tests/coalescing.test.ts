/**
 * Request coalescing through the real gateway over HTTP, against a real subgraph server that holds
 * every request until the test opens its gate, so that "concurrent" is certain rather than timed:
 * identical anonymous queries share one subgraph request; requests of two signed-in users (same
 * document) never do, each user gets their own answer; a cookie, a mutation or the setting off
 * each execute alone.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { composeServices } from '@apollo/composition';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { execute, parse } from 'graphql';
import type { Counter } from 'prom-client';
import { AccessTokenIssuer, createLogger, IDENTITY_HEADER, registry } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import type { RunningGateway } from '../src';
import { jwtVerifier, SessionRevocations, startGateway } from '../src';

const SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
type Query { greeting(name: String): String "The caller's user id as the subgraph saw it (null when anonymous)." viewer: String }
type Mutation { touch: String }
`;

/** A subgraph that counts its requests and holds each one until `open()`. */
async function heldSubgraph() {
  const schema = buildSubgraphSchema({
    typeDefs: parse(SDL),
    resolvers: {
      Query: {
        greeting: (_: unknown, args: { name?: string }) => `hello ${args.name ?? 'you'}`,
        viewer: (_: unknown, _args: unknown, ctx: unknown) => (ctx as { identity: { userId: string } | null }).identity?.userId ?? null,
      },
      Mutation: { touch: () => 'touched' },
    },
  });
  let requests = 0;
  let gate: Promise<void> = Promise.resolve();
  let openGate = (): void => undefined;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests++;
      const raw = req.headers[IDENTITY_HEADER];
      const identity = typeof raw === 'string' ? (JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { userId: string }) : null;
      const { query, variables } = JSON.parse(body) as { query: string; variables?: Record<string, unknown> };
      void gate
        .then(() => execute({ schema, document: parse(query), variableValues: variables ?? null, contextValue: { identity } }))
        .then((result) => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(result));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    requests: () => requests,
    close: () => {
      gate = new Promise<void>((resolve) => (openGate = resolve));
    },
    open: () => openGate(),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Subgraph = Awaited<ReturnType<typeof heldSubgraph>>;

const coalesced = async (): Promise<number> => (await (registry.getSingleMetric('gateway_coalesced_requests_total') as Counter | undefined)?.get())?.values[0]?.value ?? 0;

describe('request coalescing at the gateway', () => {
  const jwtSecret = randomUUID() + randomUUID();
  const internalAuthSecret = randomUUID() + randomUUID();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coalescing-'));
  let subgraph: Subgraph;
  let gateway: RunningGateway;
  let uncoalesced: RunningGateway;

  const start = (enabled: boolean) => {
    const revocations = new SessionRevocations();
    return startGateway({
      port: 0,
      supergraphFile: path.join(dir, 'supergraph.graphql'),
      internalAuthSecret,
      verifier: jwtVerifier(jwtSecret, revocations),
      revocations,
      logger: createLogger('gateway', process.env['LOG_LEVEL'] ?? 'silent'),
      coalescing: { enabled },
    });
  };

  beforeAll(async () => {
    subgraph = await heldSubgraph();
    const composed = composeServices([{ name: 'held', url: subgraph.url, typeDefs: parse(SDL) }]);
    if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
    writeFileSync(path.join(dir, 'supergraph.graphql'), composed.supergraphSdl);
    gateway = await start(true);
    uncoalesced = await start(false);
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
    await uncoalesced?.stop();
    await subgraph?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { data?: Record<string, unknown>; errors?: unknown } };
  };
  const tokenFor = async (userId: string) => `Bearer ${(await new AccessTokenIssuer(jwtSecret, 900).issue({ userId, roles: ['CUSTOMER'], sessionId: randomUUID() })).token}`;

  /** Sends `requests` at once with the subgraph's gate closed; opens it once `ready()` holds (or after `waitMs`), and answers the answers and the subgraph requests they cost. */
  const concurrently = async (requests: Array<() => ReturnType<typeof post>>, ready: () => Promise<boolean>, waitMs = 10_000) => {
    subgraph.close();
    const before = subgraph.requests();
    const answers = Promise.all(requests.map((r) => r()));
    await eventually(ready, waitMs).catch(() => undefined);
    subgraph.open();
    return { answers: await answers, subgraphRequests: subgraph.requests() - before };
  };

  it('should answer identical concurrent anonymous queries from one subgraph request', async () => {
    const coalescedBefore = await coalesced();
    const query = { query: 'query Hello($name: String) { greeting(name: $name) }', operationName: 'Hello', variables: { name: 'shop' } };
    // Opened once the gateway has attached 9 of the 10 to the first one's execution.
    const { answers, subgraphRequests } = await concurrently(
      Array.from({ length: 10 }, () => () => post(gateway.url, query)),
      async () => (await coalesced()) - coalescedBefore >= 9,
    );
    expect(answers.map((a) => [a.status, a.body])).toEqual(Array.from({ length: 10 }, () => [200, { data: { greeting: 'hello shop' } }]));
    expect(subgraphRequests).toBe(1);
  });

  it('should never merge the requests of two signed-in users, and answer each their own', async () => {
    const alice = await tokenFor('alice');
    const bob = await tokenFor('bob');
    const query = { query: '{ viewer }' };
    const callers = [alice, bob, alice, bob, alice, bob, alice, bob];
    // Opened once all 8 reached the subgraph; merged requests would never get there (the test then fails on the count).
    const { answers, subgraphRequests } = await concurrently(
      callers.map((authorization) => () => post(gateway.url, query, { authorization })),
      async () => subgraph.requests() >= 8,
    );
    expect(answers.map((a) => a.body.data?.['viewer'])).toEqual(['alice', 'bob', 'alice', 'bob', 'alice', 'bob', 'alice', 'bob']);
    expect(subgraphRequests).toBe(8);
  });

  it('should execute on its own an anonymous request with a cookie, a mutation, different variables, and everything with coalescing off', async () => {
    const before = subgraph.requests();
    const greeting = (name: string) => ({ query: 'query Hello($name: String) { greeting(name: $name) }', variables: { name } });
    const { answers, subgraphRequests } = await concurrently(
      [
        () => post(gateway.url, greeting('a'), { cookie: 'session=1' }),
        () => post(gateway.url, greeting('a'), { cookie: 'session=2' }),
        () => post(gateway.url, { query: 'mutation { touch }' }),
        () => post(gateway.url, { query: 'mutation { touch }' }),
        () => post(gateway.url, greeting('b')),
        () => post(gateway.url, greeting('c')),
        () => post(uncoalesced.url, greeting('d')),
        () => post(uncoalesced.url, greeting('d')),
      ],
      async () => subgraph.requests() - before >= 8,
    );
    expect(answers.map((a) => a.body.data)).toEqual([
      { greeting: 'hello a' },
      { greeting: 'hello a' },
      { touch: 'touched' },
      { touch: 'touched' },
      { greeting: 'hello b' },
      { greeting: 'hello c' },
      { greeting: 'hello d' },
      { greeting: 'hello d' },
    ]);
    expect(subgraphRequests).toBe(8);
  });
});
