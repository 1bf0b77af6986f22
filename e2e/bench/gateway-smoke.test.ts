/**
 * CI smoke of the gateway benchmark (e2e/bench/gateway): the same code as `npm run bench:gateway`,
 * one short round on free ports, so that the benchmark cannot rot. It asserts correctness only
 * (every gateway starts and answers the full listing, the same JSON as ours, with the subgraph
 * requests the plan needs, and the table prints), never a speed figure.
 */
import { GATEWAY_LABELS } from './gateway/gateways';
import { formatReport } from './gateway/report';
import type { BenchReport } from './gateway/run';
import { DEFAULT_SETTINGS, runGatewayBench } from './gateway/run';
import { COALESCING, UNCACHED } from './gateway/scenarios';
import { stubSubgraph } from './gateway/stub-subgraphs';
import { subgraphSdls } from './gateway/workload';

describe('gateway benchmark, smoke', () => {
  let report: BenchReport;

  beforeAll(async () => {
    report = await runGatewayBench({ ...DEFAULT_SETTINGS, rounds: 1, warmupS: 0.2, durationS: 0.5, connections: 2, basePort: 0, pin: false });
  }, 300_000);

  it('should run every gateway and answer the full listing without an error', () => {
    expect(report.gateways.map((g) => g.gateway)).toEqual([...UNCACHED.gateways]);
    for (const g of report.gateways) {
      expect({ gateway: g.gateway, failed: g.failed, problem: g.bodyProblem, errors: g.samples.map((w) => w.errors) }).toEqual({ gateway: g.gateway, failed: undefined, problem: null, errors: [{}] });
      expect(g.samples[0]!.requests).toBeGreaterThan(0);
    }
  });

  it('should get the same answer from every gateway', () => {
    expect(report.gateways.filter((g) => !g.bodyEqualsFirst).map((g) => g.gateway)).toEqual([]);
  });

  it('should send 4 subgraph requests per request from the gateways without deduplication', () => {
    // Rounded: the stubs' counters are read around the window, so a request in flight at its edges may count on either side.
    const perRequest = Object.fromEntries(report.gateways.map((g) => [g.gateway, g.samples[0]!.subgraphRequestsPerRequest]));
    const rounded = (k: string): number => Math.round(perRequest[k]!);
    expect({ ours: rounded('ours'), 'ours-own': rounded('ours-own'), apollo: rounded('apollo'), 'hive-rust-nodedupe': rounded('hive-rust-nodedupe') }).toEqual({ ours: 4, 'ours-own': 4, apollo: 4, 'hive-rust-nodedupe': 4 });
    // Deduplication can only merge requests, never add any.
    expect(perRequest['hive-rust']).toBeLessThanOrEqual(4);
  });

  it('should print the table with every gateway, the ratios and the load average', () => {
    const text = formatReport(report, 'smoke');
    for (const row of [...UNCACHED.gateways.map((k) => GATEWAY_LABELS[k]), 'req/s ÷ ours', 'CPU ms/req', 'subgraph req/req', 'p50 / p95 / p99 ms', 'load average']) expect(text).toContain(row);
  });

  it('should answer an entity the same through _entities as through a root field', async () => {
    const catalog = stubSubgraph(subgraphSdls().find((s) => s.name === 'catalog')!.sdl);
    const listed = JSON.parse(await catalog(JSON.stringify({ query: '{ products(first: 2) { edges { node { id name price { amount } } } } }' }))) as {
      data: { products: { edges: Array<{ node: { id: string; name: string; price: { amount: string } } }> } };
    };
    const [a, b] = listed.data.products.edges.map((e) => e.node);
    const entities = JSON.parse(
      await catalog(
        JSON.stringify({
          query: 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id name price { amount } } } }',
          variables: { r: [b, a].map((p) => ({ __typename: 'Product', id: p!.id })) },
        }),
      ),
    ) as { data: { _entities: unknown[] } };
    expect(entities.data._entities).toEqual([b, a]);
  });
});

describe('gateway benchmark, smoke of the anonymous scenario and of our workers', () => {
  let report: BenchReport;

  beforeAll(async () => {
    report = await runGatewayBench({ ...DEFAULT_SETTINGS, scenario: COALESCING, gateways: ['ours', 'ours-workers'], rounds: 1, warmupS: 0.2, durationS: 0.5, connections: 4, basePort: 0, pin: false });
  }, 300_000);

  it('should answer the full listing anonymously, the same from ours coalescing and from our workers, with the CPU of every worker', () => {
    for (const g of report.gateways) {
      expect({ gateway: g.gateway, failed: g.failed, problem: g.bodyProblem, equal: g.bodyEqualsFirst, errors: g.samples.map((w) => w.errors) }).toEqual({ gateway: g.gateway, failed: undefined, problem: null, equal: true, errors: [{}] });
      expect(g.samples[0]!.cpuMsPerRequest).toBeGreaterThan(0);
      // Coalescing can only merge subgraph requests, never add any.
      expect(g.samples[0]!.subgraphRequestsPerRequest).toBeLessThanOrEqual(4.5);
    }
    expect(formatReport(report, 'smoke')).toContain(GATEWAY_LABELS['ours-workers']);
  });
});
