/**
 * `node --import tsx gateway/src/graphiql/bundle.main.ts <dir>`: builds GraphiQL's browser bundle
 * into `<dir>` (replacing what is there) with the gateway's own build (bundle.ts), for a gateway
 * started with `GRAPHIQL_BUNDLE_DIR=<dir>`, which then serves it without running esbuild. The
 * image's graphiql stage runs it (Dockerfile); a gateway on a machine of its own can too, again
 * after every update of GraphiQL or its browser sources (the gateway refuses a bundle of other sources).
 */
import { parseArgs } from 'node:util';
import { writePrebuiltBundle } from './bundle';

async function main(): Promise<void> {
  const { positionals } = parseArgs({ allowPositionals: true });
  if (positionals.length !== 1) {
    process.stderr.write('usage: node --import tsx gateway/src/graphiql/bundle.main.ts <dir>\n');
    process.exit(2);
  }
  const dir = positionals[0]!;
  const started = Date.now();
  const bundle = await writePrebuiltBundle(dir);
  const bytes = bundle.files.reduce((sum, f) => sum + f.body.length, 0);
  process.stdout.write(`GraphiQL bundle ${bundle.key}: ${bundle.files.length} files, ${bytes} bytes, written to ${dir} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`graphiql bundle: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
