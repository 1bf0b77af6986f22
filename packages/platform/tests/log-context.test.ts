/**
 * Log lines follow a request: the request id survives the body's socket callbacks (a real HTTP
 * server and the platform's JSON body parser), and `npm start` picks its log format by where its
 * output goes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { bindRequestId, currentRequestId, graphqlBody, logFields, logFormat, REQUEST_ID_HEADER, requestIdFrom, withRequestId } from '@shop/platform';

describe('log format', () => {
  it('should be pretty in a terminal, JSON when piped or in production, and what LOG_FORMAT says', () => {
    expect(logFormat({}, true)).toBe('pretty');
    expect(logFormat({}, false)).toBe('json');
    expect(logFormat({ NODE_ENV: 'production' }, true)).toBe('json');
    expect(logFormat({ LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(logFormat({ LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
  });
});

describe('request id', () => {
  it('should take a sane id from the caller and make one otherwise', () => {
    expect(requestIdFrom({ [REQUEST_ID_HEADER]: 'abc-12345678' })).toBe('abc-12345678');
    expect(requestIdFrom({ [REQUEST_ID_HEADER]: 'bad id\nwith newline' })).toBeUndefined();
    expect(requestIdFrom({}, true)).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('should stay active through the body parser (a body of several chunks) and the handler after it, per request, and only there', async () => {
    const app = express();
    app.use((req, res, next) => {
      withRequestId(requestIdFrom(req.headers, true), () => {
        bindRequestId(req);
        bindRequestId(res);
        next();
      });
    });
    app.use(...graphqlBody());
    app.post('/graphql', (_req, res) => void res.json({ seen: currentRequestId(), fields: logFields() }));
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const answers = await Promise.all(
        ['req-one-12345', 'req-two-12345'].map(async (id) => {
          const res = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', [REQUEST_ID_HEADER]: id }, body: JSON.stringify({ query: '{ x }', padding: 'y'.repeat(200_000) }) });
          return (await res.json()) as { seen?: string; fields: Record<string, string> };
        }),
      );
      expect(answers).toEqual([
        { seen: 'req-one-12345', fields: { request_id: 'req-one-12345' } },
        { seen: 'req-two-12345', fields: { request_id: 'req-two-12345' } },
      ]);
      expect(currentRequestId()).toBeUndefined();
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
