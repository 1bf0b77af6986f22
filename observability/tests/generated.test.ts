import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { buildDashboard, DASHBOARDS, panelQueries } from '../src/dashboards';
import { staleFiles } from '../src/generate';
import { RULE_FILES, RULE_TESTS_FILE } from '../src/stack-config';

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ record?: string; alert?: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }> }>;
}
const [recording, alerts] = RULE_FILES.map((f) => YAML.parse(readFileSync(f, 'utf8')) as RuleFile) as [RuleFile, RuleFile];
const recorded = new Set(recording.groups.flatMap((g) => g.rules.map((r) => r.record)));
const dashboards = DASHBOARDS.map((spec) => ({ spec, json: buildDashboard(spec) }));

describe('dashboards as code', () => {
  it('should match the committed JSON and provisioning files (run: npm run generate:monitoring)', () => {
    expect(staleFiles()).toEqual([]);
  });

  it('should give every dashboard a unique uid and every panel a unique id', () => {
    expect(new Set(DASHBOARDS.map((d) => d.uid)).size).toBe(DASHBOARDS.length);
    for (const { json } of dashboards) {
      const ids = (json.panels ?? []).map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it('should query the dashboard data source variable from every panel', () => {
    for (const { json } of dashboards) {
      for (const p of json.panels ?? []) {
        if (p.type === 'row') continue;
        expect({ panel: (p as { title?: string }).title, datasource: (p as { datasource?: unknown }).datasource }).toEqual({ panel: (p as { title?: string }).title, datasource: { type: 'prometheus', uid: '${datasource}' } });
      }
    }
  });

  it('should read long-range panels from recording rules that exist', () => {
    for (const { json } of dashboards) {
      for (const p of json.panels ?? []) {
        const panel = p as { title?: string; timeFrom?: string; targets?: Array<{ expr?: string }> };
        const exprs = (panel.targets ?? []).map((t) => t.expr ?? '');
        const series = exprs.flatMap((e) => e.match(/[a-z_]+:[a-z0-9_]+:[a-z0-9_]+/g) ?? []);
        for (const name of series) expect({ panel: panel.title, name, defined: recorded.has(name) }).toEqual({ panel: panel.title, name, defined: true });
        // A panel over weeks must not scan raw series: it reads recorded ones only.
        if (panel.timeFrom) for (const e of exprs) expect({ panel: panel.title, readsRecordingRule: /[a-z_]+:[a-z0-9_]+:[a-z0-9_]+/.test(e) }).toEqual({ panel: panel.title, readsRecordingRule: true });
      }
    }
  });

  it('should only use bounded labels in legends (no ids, no raw operation text)', () => {
    const allowed = new Set(['service', 'job', 'type', 'name', 'outcome', 'code', 'status', 'subgraph', 'kind', 'topic', 'consumer', 'root_field', 'currency', 'direction', 'result', 'reason', 'budget', 'caller', 'transport', 'request', 'consumergroup', 'cluster', 'state']);
    for (const { json } of dashboards) {
      for (const p of json.panels ?? []) {
        for (const t of (p as { targets?: Array<{ legendFormat?: string }> }).targets ?? []) {
          for (const [, label] of (t.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) expect(allowed).toContain(label);
        }
      }
    }
  });

  it('should have more than 40 panel queries across the five dashboards', () => {
    expect(dashboards.flatMap(({ json }) => panelQueries(json)).length).toBeGreaterThan(40);
    expect(DASHBOARDS.map((d) => d.uid)).toEqual(['shop-overview', 'shop-gateway', 'shop-events', 'shop-business', 'shop-infrastructure']);
  });
});

describe('alert rules', () => {
  const all = alerts.groups.flatMap((g) => g.rules);
  const tests = YAML.parse(readFileSync(RULE_TESTS_FILE, 'utf8')) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }> };

  it('should cover every required situation', () => {
    expect(all.map((r) => r.alert).sort()).toEqual(
      [
        'OrdersConfirmationsFallingBehind',
        'OrdersConfirmationsFallingBehind',
        'ShopConsumerLagGrowing',
        'ShopEventDeadLettered',
        'ShopHighErrorRate',
        'ShopHighLatency',
        'ShopInventoryMismatch',
        'ShopOutboxStale',
        'ShopPaymentFailureSpike',
        'ShopProductsLowStock',
        'ShopServiceDown',
      ].sort(),
    );
  });

  it('should give every alert a severity the routing knows, a summary and a description', () => {
    for (const rule of all) {
      expect({ alert: rule.alert, severity: ['critical', 'warning', 'info'].includes(rule.labels?.['severity'] ?? '') }).toEqual({ alert: rule.alert, severity: true });
      expect(rule.annotations?.['summary']).toBeTruthy();
      expect(rule.annotations?.['description']).toBeTruthy();
    }
  });

  it('should have a promtool unit test in which each alert fires and one in which it does not', () => {
    for (const rule of all) {
      const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []).filter((c) => c.alertname === rule.alert);
      expect({ alert: rule.alert, fires: cases.some((c) => c.exp_alerts.length > 0), staysQuiet: cases.some((c) => c.exp_alerts.length === 0) }).toEqual({ alert: rule.alert, fires: true, staysQuiet: true });
    }
  });
});
