// The browser bundle of the self-hosted GraphiQL 5. GraphiQL 5 ships ES modules only (Monaco editors,
// web workers), so it must be bundled, with esbuild (a production dependency), in one of two ways:
//
// - at run time (`npm start`, the tests): the first time GraphiQL is asked for, cached on disk by
//   content hash in <checkout>/.cache/graphiql/<key>/, key = sha256(esbuild version, build
//   options, browser/*, the lockfile);
// - once, ahead of time (the gateway's image): `bundle.main.ts <dir>` runs the same build into a
//   fixed directory, and the gateway started with GRAPHIQL_BUNDLE_DIR=<dir> serves it as it is
//   (`readPrebuiltBundle`): esbuild is never loaded, and a directory without a complete bundle of
//   these sources stops the gateway at start instead of a silent build.
//
// Why at run time, not at install: `npm ci` + `npm start` on a fresh clone needs no extra step and no
// install script (the project runs none; the image installs with --ignore-scripts), a `git pull` that
// changes GraphiQL or the browser sources rebuilds by itself (the key changes), and several checkouts
// on one machine never share a cache (it lives inside each checkout, never in /tmp). Where the
// checkout is read-only, the bundle is built in memory once per process. A build takes a few seconds
// of CPU (esbuild runs in its own process); a cached start only reads the files.
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
  /**
   * 'cache' when read from the disk cache, 'built' when esbuild ran (and 'memory' when it could not
   * be cached), 'prebuilt' when read from a directory built ahead of time (readPrebuiltBundle).
   */
  readonly source: 'cache' | 'built' | 'memory' | 'prebuilt';
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

/**
 * esbuild's version, from its package.json: the key is computed without loading esbuild, so a start
 * that finds its bundle (cached or prebuilt) never loads it.
 */
function esbuildVersion(): string {
  return (JSON.parse(readFileSync(require.resolve('esbuild/package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The bundle's key: everything that decides the output (the entry points relative to this folder,
 * so that a bundle built in one place is recognised in another, e.g. the image's build stage).
 */
export function bundleKey(version = esbuildVersion()): string {
  const hash = createHash('sha256');
  const entries = Object.fromEntries(Object.entries(ENTRY_POINTS).map(([name, file]) => [name, path.isAbsolute(file) ? path.relative(__dirname, file) : file]));
  hash.update(`format ${CACHE_FORMAT}\nesbuild ${version}\n${JSON.stringify(BUILD_OPTIONS)}\n${JSON.stringify(entries)}\n`);
  const browserDir = path.join(__dirname, 'browser');
  for (const name of readdirSync(browserDir).sort()) {
    hash.update(`${name}\n`).update(readFileSync(path.join(browserDir, name)));
  }
  // The exact versions of every dependency the bundle is made of.
  const root = checkoutRoot();
  if (root) hash.update(readFileSync(path.join(root, 'package-lock.json')));
  return hash.digest('hex').slice(0, 24);
}

/** Builds running in this process (esbuild's service is stopped when none is left). */
let buildsRunning = 0;

/** Runs esbuild in memory. */
async function build(): Promise<BundleFile[]> {
  const esbuild = await import('esbuild');
  const outdir = path.join(__dirname, '.out'); // virtual: write: false
  buildsRunning++;
  try {
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
  } finally {
    // esbuild's service process would otherwise keep what this build took (~400 MB RSS, measured)
    // for the life of the gateway; a later esbuild call starts a new one by itself.
    if (--buildsRunning === 0) await esbuild.stop();
  }
}

interface Manifest {
  readonly format: number;
  /** The key of the sources it was built from (written since prebuilt bundles exist). */
  readonly key?: string;
  readonly files: ReadonlyArray<{ name: string; contentHashed: boolean }>;
}

/** The files a page needs: without any of them a directory holds no bundle. */
const REQUIRED_FILES = [BUNDLE_SCRIPT, BUNDLE_STYLESHEET, ...Object.values(BUNDLE_WORKERS)];

/** A bundle directory's files and key, or what is wrong with it (in words, for the start-up line). */
async function readBundleDir(dir: string): Promise<{ files: BundleFile[]; key: string | undefined } | { problem: string }> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: existsSync(dir) ? `it has no ${MANIFEST}` : 'the directory does not exist' };
    return { problem: `its ${MANIFEST} cannot be read (${code ?? (error as Error).message})` };
  }
  if (manifest.format !== CACHE_FORMAT || !Array.isArray(manifest.files)) return { problem: `its ${MANIFEST} is not a bundle manifest of format ${CACHE_FORMAT}` };
  const listed = new Set(manifest.files.map((f) => f.name));
  const absent = REQUIRED_FILES.filter((name) => !listed.has(name));
  if (absent.length) return { problem: `its ${MANIFEST} lists no ${absent.join(', ')}` };
  const outside = manifest.files.find(({ name }) => typeof name !== 'string' || path.basename(name) !== name);
  if (outside) return { problem: `its ${MANIFEST} names a file outside it (${String(outside.name)})` };
  try {
    const files = await Promise.all(manifest.files.map(async ({ name, contentHashed }) => ({ name, contentHashed: contentHashed === true, body: await readFile(path.join(dir, name)) })));
    return { files, key: manifest.key };
  } catch (error) {
    return { problem: `a file its ${MANIFEST} lists cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}: ${(error as NodeJS.ErrnoException).path ?? ''})` };
  }
}

/**
 * Writes the bundle to `target` atomically (a private temporary directory beside it, then one
 * rename), so concurrent gateways (jest workers, cluster workers) never read half a bundle. With
 * `replace` what is at `target` is removed first; without it, a bundle already there (a loser of
 * the rename race) is kept and this copy dropped. Throws when the directory cannot be written.
 */
async function writeBundleDir(target: string, key: string, files: readonly BundleFile[], { replace }: { replace: boolean }): Promise<void> {
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(temporary, { recursive: true });
    for (const file of files) await writeFile(path.join(temporary, file.name), file.body);
    const manifest: Manifest = { format: CACHE_FORMAT, key, files: files.map(({ name, contentHashed }) => ({ name, contentHashed })) };
    await writeFile(path.join(temporary, MANIFEST), JSON.stringify(manifest, null, 2));
    if (replace) await rm(target, { recursive: true, force: true });
    await rename(temporary, target).catch(async (error: NodeJS.ErrnoException) => {
      if (replace || !existsSync(path.join(target, MANIFEST))) throw error;
    });
  } finally {
    await rm(temporary, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Writes the bundle to `<cacheDir>/<key>`; answers false when the directory cannot be written. */
async function writeCache(cacheDir: string, key: string, files: readonly BundleFile[]): Promise<boolean> {
  try {
    await writeBundleDir(path.join(cacheDir, key), key, files, { replace: false });
    return true;
  } catch {
    return false;
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
  const key = bundleKey();
  const root = checkoutRoot();
  const cacheDir = options.cacheDir === undefined ? (root ? path.join(root, '.cache', 'graphiql') : null) : options.cacheDir;
  if (cacheDir) {
    const cached = await readBundleDir(path.join(cacheDir, key));
    if ('files' in cached) return { files: cached.files, source: 'cache', key };
  }
  const files = await build();
  if (cacheDir && (await writeCache(cacheDir, key, files))) {
    await pruneCache(cacheDir, key);
    return { files, source: 'built', key };
  }
  return { files, source: 'memory', key };
}

/** How a prebuilt bundle is made: the image's graphiql stage runs this (Dockerfile). */
export const PREBUILD_COMMAND = 'node --import tsx gateway/src/graphiql/bundle.main.ts';

/**
 * Builds the bundle (the same esbuild build as {@link graphiqlBundle}) into `dir`, replacing what
 * is there, for the gateway's GRAPHIQL_BUNDLE_DIR ({@link readPrebuiltBundle}).
 */
export async function writePrebuiltBundle(dir: string): Promise<GraphiqlBundle> {
  const key = bundleKey();
  const files = await build();
  await writeBundleDir(path.resolve(dir), key, files, { replace: true });
  return { files, source: 'built', key };
}

/**
 * The bundle {@link writePrebuiltBundle} wrote to `dir`, read without esbuild (never loaded, never
 * run). Throws, with one line that says what is wrong and how to make one, when `dir` holds no
 * complete bundle or one of other sources (another GraphiQL, other browser files): a gateway told
 * to serve a prebuilt bundle stops at start rather than building one or serving a stale one.
 */
export async function readPrebuiltBundle(dir: string): Promise<GraphiqlBundle> {
  const key = bundleKey();
  const unusable = (problem: string): Error =>
    new Error(`GRAPHIQL_BUNDLE_DIR ${dir} holds no GraphiQL bundle this gateway can serve: ${problem}. Build one there with \`${PREBUILD_COMMAND} ${dir}\` (the image's graphiql stage does), or unset GRAPHIQL_BUNDLE_DIR to build it at run time.`);
  const read = await readBundleDir(dir);
  if ('problem' in read) throw unusable(read.problem);
  if (read.key !== key) throw unusable(`it was built from other sources (key ${read.key ?? 'none'}, this gateway's ${key})`);
  return { files: read.files, source: 'prebuilt', key };
}
