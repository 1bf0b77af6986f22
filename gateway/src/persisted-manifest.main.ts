/**
 * `npm run manifest -- [--out manifest.json] <file.graphql | directory>…`: writes the safelist
 * manifest of every named operation in the given `.graphql` files (directories: every `.graphql`
 * file below them), to stdout or `--out`. See persisted-manifest.ts.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildManifest } from './persisted-manifest';

function graphqlFiles(location: string): string[] {
  if (!statSync(location).isDirectory()) return [location];
  return readdirSync(location, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.graphql') || f.endsWith('.gql'))
    .sort()
    .map((f) => path.join(location, f));
}

function main(): void {
  const { values, positionals } = parseArgs({ options: { out: { type: 'string' }, help: { type: 'boolean' } }, allowPositionals: true });
  if (values.help || positionals.length === 0) {
    process.stdout.write('usage: npm run manifest -- [--out manifest.json] <file.graphql | directory>…\n');
    process.exit(values.help ? 0 : 2);
  }
  const files = positionals.flatMap(graphqlFiles);
  const manifest = buildManifest(files.map((f) => ({ name: f, text: readFileSync(f, 'utf8') })));
  const json = `${JSON.stringify(manifest, null, 2)}\n`;
  if (values.out) {
    writeFileSync(values.out, json);
    process.stderr.write(`${manifest.operations.length} operations from ${files.length} files written to ${values.out}\n`);
  } else process.stdout.write(json);
}

try {
  main();
} catch (error) {
  process.stderr.write(`manifest: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
