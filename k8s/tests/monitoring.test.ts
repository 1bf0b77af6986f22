/**
 * The monitoring manifests (k8s/base/monitoring) are generated from observability/: they must be
 * up to date, and the generator must carry rules and dashboards over unchanged.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../lib/kustomize';
import { DASHBOARDS_DIR, RULES_DIR, findSources, readGenerated, renderMonitoring } from '../lib/monitoring';

describe('k8s/base/monitoring', () => {
  it('should equal what k8s/generate-monitoring.ts makes of observability/ (run it when this fails)', () => {
    const wanted = renderMonitoring(REPO_ROOT);
    const current = readGenerated(REPO_ROOT);
    const stale = [...new Set([...wanted.keys(), ...current.keys()])].filter((f) => wanted.get(f) !== current.get(f)).sort();
    expect({ stale, fix: 'npm run generate:monitoring' }).toEqual({ stale: [], fix: 'npm run generate:monitoring' });
  });

  it('should list every rule file and dashboard of observability/ in its kustomization', () => {
    const sources = findSources(REPO_ROOT);
    const kustomization = parse(readGenerated(REPO_ROOT).get('kustomization.yaml') ?? '') as { resources: string[] };
    expect(kustomization.resources).toHaveLength(sources.rules.length + sources.dashboards.length);
  });
});

describe('renderMonitoring', () => {
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'k8s-monitoring-'));
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('should write an empty kustomization, saying so, when observability/ has no rules or dashboards yet', () => {
    const files = renderMonitoring(root);
    expect([...files.keys()]).toEqual(['kustomization.yaml']);
    expect(files.get('kustomization.yaml')).toContain('no rule files');
    expect((parse(files.get('kustomization.yaml') as string) as { resources: string[] }).resources).toEqual([]);
  });

  it('should turn a rule file into a PrometheusRule with the same groups', () => {
    const groups = [{ name: 'shop', rules: [{ alert: 'ShopDown', expr: 'up{job="gateway"} == 0', for: '1m', labels: { severity: 'critical' }, annotations: { summary: '{{ $labels.job }} is down' } }] }];
    mkdirSync(path.join(root, RULES_DIR), { recursive: true });
    writeFileSync(path.join(root, RULES_DIR, 'Shop Alerts.yml'), `# a comment\ngroups: ${JSON.stringify(groups)}\n`);
    const files = renderMonitoring(root);
    const rule = parse(files.get('prometheusrule-shop-alerts.yaml') as string) as { kind: string; metadata: { name: string; labels: Record<string, string> }; spec: { groups: unknown } };
    expect(rule.kind).toBe('PrometheusRule');
    expect(rule.metadata.name).toBe('shop-shop-alerts');
    expect(rule.metadata.labels['release']).toBe('kube-prometheus-stack');
    expect(rule.spec.groups).toEqual(groups);
    expect((parse(files.get('kustomization.yaml') as string) as { resources: string[] }).resources).toEqual(['prometheusrule-shop-alerts.yaml']);
  });

  it('should turn a dashboard into a ConfigMap for the Grafana sidecar holding the file byte for byte', () => {
    const text = `${JSON.stringify({ title: 'Shop — overview', panels: [{ type: 'timeseries', targets: [{ expr: 'sum(rate(http_requests_total[5m]))' }] }] }, null, 2)}\n`;
    mkdirSync(path.join(root, DASHBOARDS_DIR), { recursive: true });
    writeFileSync(path.join(root, DASHBOARDS_DIR, 'shop-overview.json'), text);
    const cm = parse(renderMonitoring(root).get('dashboard-shop-overview.yaml') as string) as { kind: string; metadata: { name: string; labels: Record<string, string> }; data: Record<string, string> };
    expect(cm.kind).toBe('ConfigMap');
    expect(cm.metadata.name).toBe('grafana-dashboard-shop-overview');
    expect(cm.metadata.labels['grafana_dashboard']).toBe('1');
    expect(cm.data).toEqual({ 'shop-overview.json': text });
  });

  it('should refuse a rule file without groups and a dashboard that is not JSON, naming the file', () => {
    mkdirSync(path.join(root, RULES_DIR), { recursive: true });
    writeFileSync(path.join(root, RULES_DIR, 'broken.yml'), 'rules: []\n');
    expect(() => renderMonitoring(root)).toThrow(`${RULES_DIR}/broken.yml`);
    rmSync(path.join(root, RULES_DIR, 'broken.yml'));
    mkdirSync(path.join(root, DASHBOARDS_DIR), { recursive: true });
    writeFileSync(path.join(root, DASHBOARDS_DIR, 'broken.json'), '{ not json');
    expect(() => renderMonitoring(root)).toThrow(`${DASHBOARDS_DIR}/broken.json`);
  });
});
