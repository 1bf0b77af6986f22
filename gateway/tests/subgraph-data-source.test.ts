/**
 * SubgraphDataSource against a real HTTP server standing in for a subgraph: what one subgraph
 * request carries (the body @apollo/gateway would send, content type, the caller's identity,
 * address and Authorization, a signature the subgraph's verifier accepts), how an answer comes
 * back (a body in several chunks, the subgraph's Cache-Control restricting the request's cache
 * policy), and how failures end (a non-2xx, a body that is not JSON, a subgraph that does not
 * answer within the timeout): every failure that is not a GraphQL answer as SERVICE_UNAVAILABLE.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLDataSourceRequestKind } from '@apollo/gateway/dist/datasources/types';
import { bodyDigest, CLIENT_ADDRESS_HEADER, IDENTITY_HEADER, verifyInternalRequest } from '@shop/platform';
import type { Identity } from '@shop/platform';
import { SubgraphDataSource } from '../src/subgraph-data-source';

const SECRET = 'subgraph-data-source-test-secret-of-enough-length';
const identity: Identity = { userId: 'u-1', roles: ['CUSTOMER'], sessionId: 's-1', exp: Math.floor(Date.now() / 1000) + 600 };

interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

let server: http.Server;
let url: string;
let answer: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;
const received: Received[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, body });
      answer(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received.length = 0;
});

function incoming(policy?: { restrict(hint: { maxAge?: number; scope?: string }): void }) {
  const context = { identity, authorization: 'Bearer abc.def.ghi', clientAddress: '203.0.113.7' };
  return {
    kind: GraphQLDataSourceRequestKind.INCOMING_OPERATION,
    request: { query: '{ products { id } }', variables: { first: 2 }, operationName: undefined, http: undefined },
    incomingRequestContext: { overallCachePolicy: policy, context },
    context,
    pathInIncomingRequest: [],
  } as never;
}

describe('SubgraphDataSource', () => {
  it('should send the body, identity, address and Authorization signed, and answer a body that came in several chunks', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.write('{"data":{"products":[{"id":"p-1"},');
      setTimeout(() => res.end('{"id":"p-2"}]}}'), 20);
    };
    const source = new SubgraphDataSource('catalog', url, SECRET);
    const response = await source.process(incoming());
    expect(response.data).toEqual({ products: [{ id: 'p-1' }, { id: 'p-2' }] });
    expect(received).toHaveLength(1);
    const { headers, body } = received[0]!;
    expect(body).toBe(JSON.stringify({ query: '{ products { id } }', variables: { first: 2 } }));
    expect(headers['content-type']).toBe('application/json');
    expect(headers['authorization']).toBe('Bearer abc.def.ghi');
    expect(headers[CLIENT_ADDRESS_HEADER]).toBe('203.0.113.7');
    expect(JSON.parse(Buffer.from(String(headers[IDENTITY_HEADER]), 'base64url').toString('utf8'))).toEqual(identity);
    const verified = verifyInternalRequest(headers, { audience: 'catalog', method: 'POST', path: '/graphql', secret: SECRET, bodyDigest: bodyDigest(body) });
    expect(verified).toEqual({ identity, clientAddress: '203.0.113.7' });
    // Signed for catalog: another subgraph refuses it.
    expect(() => verifyInternalRequest(headers, { audience: 'orders', method: 'POST', path: '/graphql', secret: SECRET, bodyDigest: bodyDigest(body) })).toThrow();
  });

  it("should restrict the request's cache policy by the subgraph's Cache-Control", async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=30, public' });
      res.end('{"data":{"products":[]}}');
    };
    const hints: Array<{ maxAge?: number; scope?: string }> = [];
    const source = new SubgraphDataSource('catalog', url, SECRET);
    await source.process(incoming({ restrict: (hint) => hints.push(hint) }));
    expect(hints).toEqual([{ maxAge: 30, scope: 'PUBLIC' }]);
  });

  it('should answer a subgraph error status as its status, and a body that is not JSON or a subgraph that does not answer in time as SERVICE_UNAVAILABLE', async () => {
    const source = new SubgraphDataSource('catalog', url, { internalSecret: SECRET, timeoutMs: 300 });
    answer = (_req, res) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('bad gateway');
    };
    // A non-2xx: @apollo/gateway's error for it (status and body in extensions.response).
    await expect(source.process(incoming())).rejects.toMatchObject({ message: '502: Bad Gateway', extensions: { response: { status: 502, body: 'bad gateway' } } });
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('not json');
    };
    await expect(source.process(incoming())).rejects.toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE', service: 'catalog' } });
    // Headers sent, the body never finished: the timeout ends the read too.
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data":');
    };
    const started = Date.now();
    await expect(source.process(incoming())).rejects.toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE' } });
    // Never answered at all.
    answer = () => undefined;
    await expect(source.process(incoming())).rejects.toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE' } });
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
