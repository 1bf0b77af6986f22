// graphql-http's GraphQL-over-HTTP audit against the whole shop: the gateway and each of the four
// subgraphs (signed as the gateway signs, since a subgraph answers nobody else). No MUST may fail; the SHOULDs left are the three Apollo Server does not meet (400, not
// 200, for request errors of a client accepting only application/json; see
// gateway/tests/http-answers.test.ts and docs/notes/http-answers.md).
import { SERVICE_NAMES } from '@shop/supergraph';
import { auditGraphqlOverHttp } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';

describe('GraphQL over HTTP audit of the whole shop', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await startTestShop();
  }, 90_000);
  afterAll(async () => {
    await shop?.stop();
  });

  it('should pass every MUST of the audit on the gateway and each subgraph', async () => {
    // A subgraph answers only the gateway: its audit requests are signed as the gateway signs them.
    const targets: Array<[string, string, boolean]> = [['gateway', shop.url, false], ...SERVICE_NAMES.map((name): [string, string, boolean] => [name, shop.supergraph.services[name].url, true])];
    for (const [name, url, signed] of targets) {
      const findings = await auditGraphqlOverHttp(url, signed ? { asGateway: { secret: shop.internalAuthSecret, audience: name } } : {});
      expect({ name, must: findings.filter((f) => f.level === 'MUST') }).toEqual({ name, must: [] });
      expect({ name, should: findings.filter((f) => f.level === 'SHOULD').length }).toEqual({ name, should: 3 });
    }
  });
});
