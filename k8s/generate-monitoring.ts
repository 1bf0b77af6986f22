/**
 * Writes k8s/base/monitoring from observability/ (see lib/monitoring.ts): the PrometheusRules and
 * the Grafana dashboard ConfigMaps, plus their kustomization.yaml. Files there that the sources no
 * longer produce are removed.
 *
 *   npx tsx k8s/generate-monitoring.ts          # regenerate
 *   npx tsx k8s/generate-monitoring.ts --check  # exit 1 when the committed files are stale
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './lib/kustomize';
import { OUTPUT_DIR, findSources, readGenerated, renderMonitoring } from './lib/monitoring';

function main(): void {
  const wanted = renderMonitoring(REPO_ROOT);
  const current = readGenerated(REPO_ROOT);
  const stale = [...new Set([...wanted.keys(), ...current.keys()])].filter((f) => wanted.get(f) !== current.get(f)).sort();
  const sources = findSources(REPO_ROOT);
  const summary = `${sources.rules.length} rule file(s), ${sources.dashboards.length} dashboard(s)`;
  if (process.argv.includes('--check')) {
    if (stale.length) {
      process.stderr.write(`${OUTPUT_DIR} is stale (${stale.join(', ')}): run \`npx tsx k8s/generate-monitoring.ts\`\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(`${OUTPUT_DIR} is up to date (${summary})\n`);
    }
    return;
  }
  const dir = path.join(REPO_ROOT, OUTPUT_DIR);
  mkdirSync(dir, { recursive: true });
  for (const f of current.keys()) if (!wanted.has(f)) rmSync(path.join(dir, f));
  for (const [f, content] of wanted) if (current.get(f) !== content) writeFileSync(path.join(dir, f), content);
  process.stdout.write(`${OUTPUT_DIR}: ${summary}; ${stale.length ? `updated ${stale.join(', ')}` : 'already up to date'}\n`);
}

main();
