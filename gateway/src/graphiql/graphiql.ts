// Self-hosted GraphiQL explorer for the gateway. Apollo Server's default landing page loads its UI
// from a CDN (and shows nothing offline); this serves GraphiQL entirely from the gateway:
//
//   GET <endpointPath> (browser, Accept prefers text/html, no `query` param)  -> HTML page
//   GET <assetsPath>/<name>?v=<hash>                                           -> static assets
//
// The assets are the prebuilt UMD builds shipped in node_modules (react/umd, react-dom/umd,
// graphiql/graphiql.min.js + .css, graphql-ws/umd) plus client.js beside this file: no bundler, no
// build step. They are read and hashed once when the handler is created; compressed variants
// (br, gzip) are made lazily once per asset and cached. Asset URLs carry the content hash, so they
// are served `immutable`; every response also has a strong ETag.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

export interface GraphiqlOptions {
  /** default '/graphql' */
  endpointPath?: string;
  /** default '/graphiql-assets' */
  assetsPath?: string;
  /** page title, default 'Shop supergraph' */
  title?: string;
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

interface Asset {
  readonly name: string;
  readonly contentType: string;
  readonly body: Buffer;
  readonly hash: string;
  readonly etag: string;
  br?: Buffer;
  gzip?: Buffer;
}

/** Minimal layout so GraphiQL fills the window; served as an asset so the CSP needs no hash for it. */
const PAGE_CSS = `html, body { height: 100%; margin: 0; }
#graphiql { height: 100vh; }
.graphiql-boot-error { padding: 1rem; font: 14px/1.4 system-ui, sans-serif; color: #b00020; }
`;

function packageDir(pkg: string): string {
  return path.dirname(require.resolve(`${pkg}/package.json`));
}

/** Drops `//# sourceMappingURL=` comments: the maps are not served, so browsers' devtools would 404. */
function stripSourceMap(source: Buffer): Buffer {
  return Buffer.from(source.toString('utf8').replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n'), 'utf8');
}

function makeAsset(name: string, contentType: string, body: Buffer): Asset {
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 16);
  return { name, contentType, body, hash, etag: `"${hash}"` };
}

/** Reads every asset once. Throws (loudly, at startup) when a package is missing. */
function loadAssets(): Map<string, Asset> {
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  const files: Array<[name: string, contentType: string, file: string]> = [
    ['react.production.min.js', js, path.join(packageDir('react'), 'umd', 'react.production.min.js')],
    ['react-dom.production.min.js', js, path.join(packageDir('react-dom'), 'umd', 'react-dom.production.min.js')],
    ['graphql-ws.min.js', js, path.join(packageDir('graphql-ws'), 'umd', 'graphql-ws.min.js')],
    ['graphiql.min.js', js, path.join(packageDir('graphiql'), 'graphiql.min.js')],
    ['graphiql.min.css', css, path.join(packageDir('graphiql'), 'graphiql.min.css')],
    ['client.js', js, path.join(__dirname, 'client.js')],
  ];
  const assets = new Map<string, Asset>();
  for (const [name, contentType, file] of files) {
    let body: Buffer = readFileSync(file);
    if (name.endsWith('.js') || name.endsWith('.css')) body = stripSourceMap(body);
    assets.set(name, makeAsset(name, contentType, body));
  }
  assets.set('page.css', makeAsset('page.css', css, Buffer.from(PAGE_CSS, 'utf8')));
  return assets;
}

const SCRIPT_ORDER = ['react.production.min.js', 'react-dom.production.min.js', 'graphql-ws.min.js', 'graphiql.min.js', 'client.js'];
const STYLE_ORDER = ['graphiql.min.css', 'page.css'];

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

function encoded(asset: Asset, encoding: 'br' | 'gzip'): Buffer {
  if (encoding === 'br') {
    asset.br ??= zlib.brotliCompressSync(asset.body, {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: asset.body.length },
    });
    return asset.br;
  }
  asset.gzip ??= zlib.gzipSync(asset.body, { level: 9 });
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
 * style-src needs 'unsafe-inline': GraphiQL's dialogs (Radix UI / react-remove-scroll) inject <style>
 * elements at run time. Fonts are data: URLs inlined in graphiql.min.css.
 */
function contentSecurityPolicy(host: string | undefined): string {
  const connect = ["'self'"];
  if (host && HOST_PATTERN.test(host)) connect.push(`ws://${host}`, `wss://${host}`);
  return [
    "default-src 'none'",
    "script-src 'self'",
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

/**
 * Returns a plain Node request handler; it answers and returns true for the explorer page (GET
 * endpointPath whose Accept header prefers text/html, and no `query` param) and its static assets,
 * and returns false for anything else so the caller passes the request on.
 */
export function createGraphiqlHandler(
  options: GraphiqlOptions = {},
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const endpointPath = trimTrailingSlash(options.endpointPath ?? '/graphql');
  const assetsPath = trimTrailingSlash(options.assetsPath ?? '/graphiql-assets');
  const title = options.title ?? 'Shop supergraph';
  const assets = loadAssets();

  const assetUrl = (name: string): string => {
    const asset = assets.get(name);
    if (!asset) throw new Error(`graphiql: unknown asset ${name}`);
    return `${assetsPath}/${encodeURIComponent(name)}?v=${asset.hash}`;
  };

  const html = Buffer.from(
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
${STYLE_ORDER.map((name) => `<link rel="stylesheet" href="${escapeHtml(assetUrl(name))}">`).join('\n')}
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<noscript>The GraphiQL explorer needs JavaScript. The GraphQL endpoint is ${escapeHtml(endpointPath)}.</noscript>
<script type="application/json" id="graphiql-config">${jsonForScript({ endpointPath, defaultQuery: DEFAULT_QUERY })}</script>
${SCRIPT_ORDER.map((name) => `<script src="${escapeHtml(assetUrl(name))}" defer></script>`).join('\n')}
</body>
</html>
`,
    'utf8',
  );
  const htmlEtag = `"${createHash('sha256').update(html).digest('base64url').slice(0, 16)}"`;

  const commonHeaders = (res: ServerResponse): void => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
  };

  const servePage = (req: IncomingMessage, res: ServerResponse): void => {
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

  const serveAsset = (req: IncomingMessage, res: ServerResponse, asset: Asset, version: string | null): void => {
    commonHeaders(res);
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Vary', 'Accept-Encoding');
    res.setHeader('ETag', asset.etag);
    // The hash in the URL pins the content: cache forever. Unversioned URLs must revalidate.
    res.setHeader('Cache-Control', version === asset.hash ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (etagMatches(req.headers['if-none-match'], asset.etag)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    const encoding = pickEncoding(req.headers['accept-encoding']);
    const body = encoding ? encoded(asset, encoding) : asset.body;
    res.statusCode = 200;
    res.setHeader('Content-Type', asset.contentType);
    if (encoding) res.setHeader('Content-Encoding', encoding);
    res.setHeader('Content-Length', body.length);
    res.end(req.method === 'HEAD' ? undefined : body);
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
        return false;
      }
      const asset = assets.get(name);
      if (!asset) return false;
      serveAsset(req, res, asset, url.searchParams.get('v'));
      return true;
    }

    if (trimTrailingSlash(pathname) === endpointPath && !url.searchParams.has('query') && prefersHtml(req.headers.accept)) {
      servePage(req, res);
      return true;
    }
    return false;
  };
}
