/** Helpers of the defence scenarios: a proxy that records what the gateway sends a subgraph, and a gateway behind such proxies. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningGateway } from '@shop/gateway';
import { jwtVerifier, SessionRevocations, startGateway } from '@shop/gateway';
import { createLogger } from '@shop/platform';
import type { GraphQLResponse, TestShop } from '../support/harness';
import { postGraphQL } from '../support/harness';

/** One request as it went from the gateway to a subgraph. */
export interface Captured {
  readonly method: string;
  /** The subgraph's URL (where it was going). */
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A proxy in front of one subgraph that keeps a copy of every request it forwards (a wiretap). */
export async function recordingProxy(target: string): Promise<{ url: string; requests: Captured[]; close(): Promise<void> }> {
  const requests: Captured[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string' && !['host', 'content-length', 'connection'].includes(name)) headers[name] = value;
      requests.push({ method: req.method ?? 'POST', url: target, headers, body });
      fetch(target, { method: req.method ?? 'POST', headers, ...(body ? { body } : {}) }).then(
        async (answer) => {
          res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
          res.end(Buffer.from(await answer.arrayBuffer()));
        },
        () => {
          res.writeHead(502);
          res.end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A second gateway on `shop`'s subgraphs, each reached through a recording proxy; its deny list
 * follows the shop's bus like the real one. `ttlSeconds`: lifetime of its request signatures.
 */
export async function wiretappedGateway(shop: TestShop, ttlSeconds: number) {
  const proxies = Object.fromEntries(await Promise.all(Object.entries(shop.supergraph.services).map(async ([name, s]) => [name, await recordingProxy(s.url)] as const)));
  const revocations = new SessionRevocations();
  const gateway: RunningGateway = await startGateway({
    port: 0,
    subgraphUrls: Object.fromEntries(Object.entries(proxies).map(([name, p]) => [name, p.url])),
    internalAuthSecret: shop.internalAuthSecret,
    internalRequestTtlSeconds: ttlSeconds,
    verifier: jwtVerifier(shop.jwtSecret, revocations),
    revocations,
    bus: shop.bus,
    nodeEnv: 'test',
    logger: createLogger('gateway', process.env['LOG_LEVEL'] ?? 'silent'),
  });
  return {
    gql: <T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResponse<T>> => postGraphQL<T>(gateway.url, query, variables, token),
    /** The requests the gateway sent to `subgraph` so far. */
    sentTo: (subgraph: string): Captured[] => proxies[subgraph]!.requests,
    stop: async () => {
      await gateway.stop();
      for (const p of Object.values(proxies)) await p.close();
    },
  };
}

/** Sends a captured request again, as is, to `url` (default where it was going). */
export async function replay(captured: Captured, url = captured.url, body = captured.body): Promise<GraphQLResponse<any>> {
  const res = await fetch(url, { method: captured.method, headers: captured.headers, body });
  return { status: res.status, ...((await res.json()) as object) };
}
