// Self-hosted GraphiQL explorer for the gateway. Apollo Server's default landing page loads its UI
// from a CDN (and shows nothing offline); this serves GraphiQL 5 (Monaco editors, the explorer
// plugin, a subscription event log) entirely from the gateway:
//
//   GET <endpointPath> (browser, Accept prefers text/html, no `query` param)  -> HTML page
//   GET <assetsPath>/<name>?v=<hash>                                           -> static assets
//
// The assets are the esbuild bundle of browser/main.js (bundle.ts: the page script and stylesheet,
// Monaco's codicon font and its three web workers): a prebuilt one when given (`bundle`, the
// image's), else built on the first request for the page or an asset and cached on disk by content hash. Each asset is hashed once when loaded; compressed
// variants (br, gzip) are made lazily once per asset and kept. Asset URLs carry the content hash
// (`?v=`, or a hash in the name for the font the stylesheet refers to), so they are served
// `immutable`; every response also has a strong ETag.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { BundleOptions, GraphiqlBundle } from './bundle';
import { BUNDLE_SCRIPT, BUNDLE_STYLESHEET, BUNDLE_WORKERS, graphiqlBundle } from './bundle';

/** What the handler logs (a pino logger fits). */
export interface GraphiqlLogger {
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface GraphiqlOptions extends BundleOptions {
  /** default '/graphql' */
  endpointPath?: string;
  /** default '/graphiql-assets' */
  assetsPath?: string;
  /** page title, default 'Shop supergraph' */
  title?: string;
  /** default: nothing is logged */
  logger?: GraphiqlLogger;
  /**
   * Load (or build) the bundle right away, in the background, so that the first visitor does not
   * wait for it. Default false: on the first request for the page or an asset (tests that never
   * open GraphiQL never pay for it).
   */
  prepare?: boolean;
  /**
   * A bundle loaded already (bundle.ts `readPrebuiltBundle`, the image's): served as it is, nothing
   * is built or cached and esbuild is never loaded. Default none: built (or read from the cache) on
   * first use.
   */
  bundle?: GraphiqlBundle;
}

export const DEFAULT_QUERY = `{
  products(first: 3) {
    edges {
      node {
        name
        price {
          amount
          currencyCode
        }
        inventory {
          available
        }
      }
    }
  }
}
`;

/**
 * The Headers tab's initial text: how to send a token, as JSON with comments (GraphiQL parses the
 * tab as JSONC), so an anonymous request sends no Authorization header until the user uncomments it.
 */
export const DEFAULT_HEADERS = `{
  // To act as a signed-in user, uncomment the next line and paste the accessToken
  // answered by the login or register mutation:
  // "Authorization": "Bearer <token>"
}
`;

interface Asset {
  readonly name: string;
  readonly contentType: string;
  readonly body: Buffer;
  readonly hash: string;
  readonly etag: string;
  /** Its name carries a content hash (the font): immutable even without `?v=`. */
  readonly contentHashed: boolean;
  br?: Promise<Buffer>;
  gzip?: Promise<Buffer>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ttf': 'font/ttf',
};

function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return CONTENT_TYPES[dot >= 0 ? name.slice(dot) : ''] ?? 'application/octet-stream';
}

function makeAsset(name: string, body: Buffer, contentHashed: boolean): Asset {
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 16);
  return { name, contentType: contentTypeOf(name), body, hash, etag: `"${hash}"`, contentHashed };
}

function assetsOf(bundle: GraphiqlBundle): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const file of bundle.files) assets.set(file.name, makeAsset(file.name, file.body, file.contentHashed));
  for (const name of [BUNDLE_SCRIPT, BUNDLE_STYLESHEET, ...Object.values(BUNDLE_WORKERS)]) {
    if (!assets.has(name)) throw new Error(`graphiql: the bundle has no ${name}`);
  }
  return assets;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that is safe inside <script type="application/json">. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Splits an Accept / Accept-Encoding header into (type, q) pairs. */
function parseAccept(accept: string): Array<{ type: string; q: number }> {
  const ranges: Array<{ type: string; q: number }> = [];
  for (const part of accept.split(',')) {
    const [rawType, ...params] = part.split(';');
    const type = (rawType ?? '').trim().toLowerCase();
    if (!type) continue;
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split('=');
      if (key?.trim().toLowerCase() === 'q' && value !== undefined) {
        const parsed = Number.parseFloat(value.trim());
        if (Number.isFinite(parsed)) q = Math.min(Math.max(parsed, 0), 1);
      }
    }
    ranges.push({ type, q });
  }
  return ranges;
}

const GRAPHQL_RESPONSE_TYPES = new Set(['application/json', 'application/graphql-response+json', 'multipart/mixed']);

/**
 * True when the client explicitly asks for text/html and likes it strictly better than any GraphQL
 * response type. A wildcard alone (curl's `* / *`) does not count as asking for HTML; ties go to the API.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = parseAccept(accept);
  let html = 0;
  let explicitGraphql = -1;
  let wildcard = 0;
  for (const { type, q } of ranges) {
    if (type === 'text/html') html = Math.max(html, q);
    else if (GRAPHQL_RESPONSE_TYPES.has(type)) explicitGraphql = Math.max(explicitGraphql, q);
    else if (type === '*/*' || type === 'application/*') wildcard = Math.max(wildcard, q);
  }
  const graphql = explicitGraphql >= 0 ? explicitGraphql : wildcard;
  return html > 0 && html > graphql;
}

/** Browser-cached compression: br, then gzip, else identity. */
function pickEncoding(acceptEncoding: string | undefined): 'br' | 'gzip' | undefined {
  if (!acceptEncoding) return undefined;
  const accepted = new Set(
    parseAccept(acceptEncoding)
      .filter(({ q }) => q > 0)
      .map(({ type }) => type),
  );
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip')) return 'gzip';
  return undefined;
}

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/**
 * The compressed body, made once per asset and encoding, off the event loop (libuv's thread pool):
 * the 5 MB script takes ~0.7 s of CPU, which must not stall the gateway's requests.
 */
function encoded(asset: Asset, encoding: 'br' | 'gzip'): Promise<Buffer> {
  if (encoding === 'br') {
    asset.br ??= brotli(asset.body, {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: asset.body.length },
    });
    return asset.br;
  }
  asset.gzip ??= gzip(asset.body, { level: 9 });
  return asset.gzip;
}

function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*');
}

const HOST_PATTERN = /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * Only our own origin: scripts and stylesheets from 'self' (no inline script), fetch/WebSocket to
 * 'self' (+ explicit ws:/wss: to the same host, for browsers whose 'self' does not cover WebSockets).
 * style-src needs 'unsafe-inline': Monaco and GraphiQL's dialogs (Radix UI / react-remove-scroll)
 * inject <style> elements at run time. Fonts are the codicon file beside the stylesheet and data:
 * URLs inlined in it. Monaco's workers come from 'self' (worker-src; no blob: workers).
 */
function contentSecurityPolicy(host: string | undefined): string {
  const connect = ["'self'"];
  if (host && HOST_PATTERN.test(host)) connect.push(`ws://${host}`, `wss://${host}`);
  return [
    "default-src 'none'",
    "script-src 'self'",
    "worker-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src ${connect.join(' ')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function trimTrailingSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

interface Loaded {
  readonly assets: Map<string, Asset>;
  readonly html: Buffer;
  readonly htmlEtag: string;
}

/**
 * Returns a plain Node request handler; it answers and returns true for the explorer page (GET
 * endpointPath whose Accept header prefers text/html, and no `query` param) and everything under
 * assetsPath (404 for an unknown name), and returns false for anything else so the caller passes
 * the request on. The bundle is loaded (or built) on the first such request; until it is ready
 * those requests wait; if building fails they get a 503 and the next request tries again.
 */
export function createGraphiqlHandler(
  options: GraphiqlOptions = {},
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const endpointPath = trimTrailingSlash(options.endpointPath ?? '/graphql');
  const assetsPath = trimTrailingSlash(options.assetsPath ?? '/graphiql-assets');
  const title = options.title ?? 'Shop supergraph';
  const bundleOptions: BundleOptions = options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir };

  const page = (assets: Map<string, Asset>): Buffer => {
    const assetUrl = (name: string): string => {
      const asset = assets.get(name);
      if (!asset) throw new Error(`graphiql: unknown asset ${name}`);
      return `${assetsPath}/${encodeURIComponent(name)}?v=${asset.hash}`;
    };
    const workers = Object.fromEntries(Object.entries(BUNDLE_WORKERS).map(([label, name]) => [label, assetUrl(name)]));
    const config = { endpointPath, defaultQuery: DEFAULT_QUERY, defaultHeaders: DEFAULT_HEADERS, workers };
    return Buffer.from(
      `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${escapeHtml(assetUrl(BUNDLE_STYLESHEET))}">
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<noscript>The GraphiQL explorer needs JavaScript. The GraphQL endpoint is ${escapeHtml(endpointPath)}.</noscript>
<script type="application/json" id="graphiql-config">${jsonForScript(config)}</script>
<script src="${escapeHtml(assetUrl(BUNDLE_SCRIPT))}" defer></script>
</body>
</html>
`,
      'utf8',
    );
  };

  let loading: Promise<Loaded> | undefined;
  const load = (): Promise<Loaded> => {
    loading ??= (async () => {
      const started = Date.now();
      const bundle = options.bundle ?? (await graphiqlBundle(bundleOptions));
      const assets = assetsOf(bundle);
      const html = page(assets);
      options.logger?.info({ source: bundle.source, key: bundle.key, ms: Date.now() - started }, 'GraphiQL bundle ready');
      return { assets, html, htmlEtag: `"${createHash('sha256').update(html).digest('base64url').slice(0, 16)}"` };
    })().catch((error: unknown) => {
      loading = undefined; // the next request tries again
      throw error;
    });
    return loading;
  };

  const logFailure = (error: unknown): void => options.logger?.error({ err: error }, 'GraphiQL bundle could not be built');
  if (options.prepare) load().catch(logFailure);

  const commonHeaders = (res: ServerResponse): void => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
  };

  const servePage = (req: IncomingMessage, res: ServerResponse, { html, htmlEtag }: Loaded): void => {
    commonHeaders(res);
    res.setHeader('Content-Security-Policy', contentSecurityPolicy(req.headers.host));
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Vary', 'Accept');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', htmlEtag);
    if (etagMatches(req.headers['if-none-match'], htmlEtag)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Content-Length', html.length);
    res.end(req.method === 'HEAD' ? undefined : html);
  };

  const serveAsset = async (req: IncomingMessage, res: ServerResponse, asset: Asset, version: string | null): Promise<void> => {
    commonHeaders(res);
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Vary', 'Accept-Encoding');
    res.setHeader('ETag', asset.etag);
    // The hash in the URL pins the content: cache forever. Unversioned URLs must revalidate.
    res.setHeader('Cache-Control', version === asset.hash || asset.contentHashed ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (etagMatches(req.headers['if-none-match'], asset.etag)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    // A TrueType font barely compresses; everything else is text.
    const encoding = asset.contentType.startsWith('font/') ? undefined : pickEncoding(req.headers['accept-encoding']);
    const body = encoding ? await encoded(asset, encoding) : asset.body;
    res.statusCode = 200;
    res.setHeader('Content-Type', asset.contentType);
    if (encoding) res.setHeader('Content-Encoding', encoding);
    res.setHeader('Content-Length', body.length);
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const unavailable = (req: IncomingMessage, res: ServerResponse, error: unknown): void => {
    logFailure(error);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    commonHeaders(res);
    res.statusCode = 503;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Retry-After', '5');
    res.end(req.method === 'HEAD' ? undefined : 'GraphiQL is unavailable: its bundle could not be built (see the gateway log). The GraphQL endpoint works.\n');
  };

  const answer = (req: IncomingMessage, res: ServerResponse, respond: (loaded: Loaded) => void | Promise<void>): void => {
    load()
      .then(respond)
      .catch((error: unknown) => unavailable(req, res, error));
  };

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return false;
    }
    const pathname = url.pathname;

    if (pathname.startsWith(`${assetsPath}/`)) {
      let name: string;
      try {
        name = decodeURIComponent(pathname.slice(assetsPath.length + 1));
      } catch {
        name = '';
      }
      answer(req, res, async (loaded) => {
        const asset = loaded.assets.get(name);
        if (asset) {
          await serveAsset(req, res, asset, url.searchParams.get('v'));
          return;
        }
        commonHeaders(res);
        res.statusCode = 404;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end(req.method === 'HEAD' ? undefined : 'No such GraphiQL asset.\n');
      });
      return true;
    }

    if (trimTrailingSlash(pathname) === endpointPath && !url.searchParams.has('query') && prefersHtml(req.headers.accept)) {
      answer(req, res, (loaded) => servePage(req, res, loaded));
      return true;
    }
    return false;
  };
}
