/**
 * Builds every overlay and validates every object offline against the Kubernetes and CRD schemas
 * (see lib/schema.ts). `npx tsx k8s/validate.ts` prints the problems and exits 1 when there are any;
 * `--json` prints `{ "<overlay>": { "objects": n, "problems": [{ object, message }] } }` instead
 * (the jest suite k8s/tests/manifests.test.ts reads that).
 */
import type { SchemaProblem } from './lib/schema';
import { validateWithModels, validateWithTypes } from './lib/schema';
import { buildOverlay, overlays } from './lib/kustomize';

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const report: Record<string, { objects: number; problems: SchemaProblem[] }> = {};
  for (const overlay of overlays()) {
    const objects = buildOverlay(overlay);
    report[overlay] = { objects: objects.length, problems: [...(await validateWithModels(objects)), ...validateWithTypes(objects)] };
  }
  const count = Object.values(report).reduce((n, r) => n + r.problems.length, 0);
  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    for (const [overlay, r] of Object.entries(report)) {
      process.stdout.write(`${overlay}: ${r.objects} objects, ${r.problems.length} problems\n`);
      for (const p of r.problems) process.stdout.write(`  ${p.object}: ${p.message}\n`);
    }
  }
  process.exitCode = count ? 1 : 0;
}

main().catch((error: unknown) => {
  process.stderr.write(`validate: ${(error as Error).message}\n`);
  process.exitCode = 2;
});
