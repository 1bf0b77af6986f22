// The browser bundle of the self-hosted GraphiQL 5. GraphiQL 5 ships ES modules only (Monaco editors,
// web workers), so the gateway bundles browser/main.js with esbuild (a production dependency) the
// first time GraphiQL is asked for, and caches the output on disk by content hash:
//
//   <checkout>/.cache/graphiql/<key>/   key = sha256(esbuild version, build options, browser/*, the lockfile)
//
// Why at run time, not at install: `npm ci` + `npm start` on a fresh clone needs no extra step and no
// install script (the project runs none; the image installs with --ignore-scripts), a `git pull` that
// changes GraphiQL or the browser sources rebuilds by itself (the key changes), and several checkouts
// on one machine never share a cache (it lives inside each checkout, never in /tmp). Where the
// checkout is read-only (the Kubernetes image: readOnlyRootFilesystem), the bundle is built in memory
// once per process. A build takes a few seconds of CPU (esbuild runs in its own process); a cached
// start only reads the files.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

/** One file of the bundle. `contentHashed`: its name already carries a hash of its content. */
export interface BundleFile {
  readonly name: string;
  readonly body: Buffer;
  readonly contentHashed: boolean;
}

export interface GraphiqlBundle {
  readonly files: readonly BundleFile[];
  /** 'cache' when read from the disk cache, 'built' when esbuild ran (and 'memory' when it could not be cached). */
  readonly source: 'cache' | 'built' | 'memory';
  readonly key: string;
}

/** The entry points: the page script (+ its stylesheet) and Monaco's three workers. */
const ENTRY_POINTS = {
  graphiql: path.join(__dirname, 'browser', 'main.js'),
  'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
  'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
  'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
} as const;

/** The names the page refers to (the font is referred to by the stylesheet, relatively). */
export const BUNDLE_SCRIPT = 'graphiql.js';
export const BUNDLE_STYLESHEET = 'graphiql.css';
export const BUNDLE_WORKERS = { editor: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' } as const;

const BUILD_OPTIONS = {
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome110', 'firefox115', 'safari16'],
  // Monaco's codicon font: a file beside the stylesheet, named by its content hash.
  loader: { '.ttf': 'file' },
  assetNames: '[name]-[hash]',
  entryNames: '[name]',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'none',
  logLevel: 'silent',
} as const;

const CACHE_FORMAT = 1;
const MANIFEST = 'manifest.json';
/** How many other keys to keep beside the current one (another branch checked out, say). */
const KEEP_OTHER_KEYS = 2;

function findUp(start: string, name: string): string | undefined {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The checkout's root: the directory of the workspace root's package-lock.json. */
function checkoutRoot(): string | undefined {
  const lock = findUp(path.join(__dirname, '..', '..', '..'), 'package-lock.json');
  return lock ? path.dirname(lock) : undefined;
}

/** The cache key: everything that decides the output. */
export function bundleKey(esbuildVersion: string): string {
  const hash = createHash('sha256');
  hash.update(`format ${CACHE_FORMAT}\nesbuild ${esbuildVersion}\n${JSON.stringify(BUILD_OPTIONS)}\n${JSON.stringify(ENTRY_POINTS)}\n`);
  const browserDir = path.join(__dirname, 'browser');
  for (const name of readdirSync(browserDir).sort()) {
    hash.update(`${name}\n`).update(readFileSync(path.join(browserDir, name)));
  }
  // The exact versions of every dependency the bundle is made of.
  const root = checkoutRoot();
  if (root) hash.update(readFileSync(path.join(root, 'package-lock.json')));
  return hash.digest('hex').slice(0, 24);
}

/** Runs esbuild in memory. */
async function build(): Promise<BundleFile[]> {
  const esbuild = await import('esbuild');
  const outdir = path.join(__dirname, '.out'); // virtual: write: false
  const result = await esbuild.build({
    ...BUILD_OPTIONS,
    loader: { ...BUILD_OPTIONS.loader },
    define: { ...BUILD_OPTIONS.define },
    target: [...BUILD_OPTIONS.target],
    entryPoints: { ...ENTRY_POINTS },
    outdir,
    absWorkingDir: __dirname,
    write: false,
  });
  return result.outputFiles.map((file) => {
    const name = path.relative(outdir, file.path);
    return { name, body: Buffer.from(file.contents), contentHashed: !Object.keys(ENTRY_POINTS).some((entry) => name.startsWith(`${entry}.`)) };
  });
}

interface Manifest {
  readonly format: number;
  readonly files: ReadonlyArray<{ name: string; contentHashed: boolean }>;
}

async function readCache(dir: string): Promise<BundleFile[] | undefined> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
  if (manifest.format !== CACHE_FORMAT) return undefined;
  try {
    return await Promise.all(manifest.files.map(async ({ name, contentHashed }) => ({ name, contentHashed, body: await readFile(path.join(dir, name)) })));
  } catch {
    return undefined;
  }
}

/**
 * Writes the bundle to `<cacheDir>/<key>` atomically (a private temporary directory, then one
 * rename), so concurrent gateways (jest workers, cluster workers) never read half a bundle; a
 * loser of the rename race drops its copy. Answers false when the directory cannot be written.
 */
async function writeCache(cacheDir: string, key: string, files: readonly BundleFile[]): Promise<boolean> {
  const target = path.join(cacheDir, key);
  const temporary = path.join(cacheDir, `.${key}.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(temporary, { recursive: true });
    for (const file of files) await writeFile(path.join(temporary, file.name), file.body);
    const manifest: Manifest = { format: CACHE_FORMAT, files: files.map(({ name, contentHashed }) => ({ name, contentHashed })) };
    await writeFile(path.join(temporary, MANIFEST), JSON.stringify(manifest, null, 2));
    await rename(temporary, target).catch(async (error: NodeJS.ErrnoException) => {
      if (!existsSync(path.join(target, MANIFEST))) throw error;
    });
    return true;
  } catch {
    return false;
  } finally {
    await rm(temporary, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Removes bundles of old keys (beyond the newest few), best effort. */
async function pruneCache(cacheDir: string, key: string): Promise<void> {
  try {
    const others = await Promise.all(
      (await readdir(cacheDir))
        .filter((name) => name !== key && !name.startsWith('.'))
        .map(async (name) => ({ name, mtime: (await stat(path.join(cacheDir, name))).mtimeMs })),
    );
    others.sort((a, b) => b.mtime - a.mtime);
    for (const { name } of others.slice(KEEP_OTHER_KEYS)) await rm(path.join(cacheDir, name), { recursive: true, force: true });
  } catch {
    // Best effort: a stale bundle only costs disk space.
  }
}

export interface BundleOptions {
  /** Where bundles are cached; default `<checkout>/.cache/graphiql`; null: never cache (build in memory). */
  readonly cacheDir?: string | null;
}

/** The GraphiQL bundle: from the cache when its key matches, else built (and cached when possible). */
export async function graphiqlBundle(options: BundleOptions = {}): Promise<GraphiqlBundle> {
  const esbuild = await import('esbuild');
  const key = bundleKey(esbuild.version);
  const root = checkoutRoot();
  const cacheDir = options.cacheDir === undefined ? (root ? path.join(root, '.cache', 'graphiql') : null) : options.cacheDir;
  if (cacheDir) {
    const cached = await readCache(path.join(cacheDir, key));
    if (cached) return { files: cached, source: 'cache', key };
  }
  const files = await build();
  if (cacheDir && (await writeCache(cacheDir, key, files))) {
    await pruneCache(cacheDir, key);
    return { files, source: 'built', key };
  }
  return { files, source: 'memory', key };
}
