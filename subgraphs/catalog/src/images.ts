/**
 * Product pictures the shop serves itself (the demo catalogue works offline): an SVG drawn from
 * the product (its name, its category's colour), at `/images/products/<slug>.svg`.
 *
 * Stored image URLs that start with `/` are paths on the catalog; `Product.imageUrls` answers
 * them absolute: with CATALOG_PUBLIC_URL when set (production: the address browsers reach the
 * catalog's images at), else with the address the gateway reached the catalog at (development:
 * `npm start` runs everything on localhost).
 */
import type express from 'express';
import type { CatalogParts } from './setup';

/** The path of a product's generated picture. */
export const productImagePath = (slug: string): string => `/images/products/${encodeURIComponent(slug)}.svg`;

const PALETTE = ['#1f6feb', '#8250df', '#bf3989', '#cf222e', '#bc4c00', '#4d2d00', '#1a7f37', '#0969da', '#6e7781', '#116329', '#953800'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A 600×600 picture: the category's colour, the product's initials and its name wrapped in lines of at most 22 characters. */
export function productSvg(name: string, categoryName: string): string {
  let hash = 0;
  for (const ch of categoryName) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const colour = PALETTE[hash % PALETTE.length]!;
  const words = name.split(/\s+/).filter(Boolean);
  const initials = words.slice(0, 2).map((w) => [...w][0] ?? '').join('').toUpperCase();
  const lines: string[] = [];
  for (const w of words) {
    const last = lines.at(-1);
    if (last !== undefined && `${last} ${w}`.length <= 22) lines[lines.length - 1] = `${last} ${w}`;
    else lines.push(w);
  }
  const text = lines
    .slice(0, 4)
    .map((l, i) => `<text x="300" y="${430 + i * 38}" font-size="32" text-anchor="middle" fill="#fff">${escapeXml(l)}</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="600" height="600" viewBox="0 0 600 600" role="img" aria-label="${escapeXml(name)}">
<rect width="600" height="600" fill="${colour}"/><circle cx="300" cy="230" r="130" fill="#ffffff33"/>
<text x="300" y="275" font-size="120" font-family="sans-serif" font-weight="bold" text-anchor="middle" fill="#fff">${escapeXml(initials)}</text>
<g font-family="sans-serif">${text}</g>
<text x="300" y="585" font-size="20" font-family="sans-serif" text-anchor="middle" fill="#ffffffaa">${escapeXml(categoryName)}</text>
</svg>`;
}

/** Makes a stored image URL absolute (see the module comment). */
export function absoluteImageUrl(url: string, base: string | null): string {
  return url.startsWith('/') && base ? `${base.replace(/\/+$/, '')}${url}` : url;
}

/** The image route, and a middleware that learns the catalog's own address from the gateway's requests (development default). */
export function catalogRoutes(app: express.Express, parts: CatalogParts): void {
  app.use((req, _res, next) => {
    if (!parts.images.observedBase && req.path === '/graphql' && req.headers.host) parts.images.observedBase = `${req.protocol}://${req.headers.host}`;
    next();
  });
  app.get('/images/products/:file', (req, res, next) => {
    const match = /^(.{1,300})\.svg$/.exec(req.params.file);
    if (!match) {
      res.status(404).type('text/plain').send('not found');
      return;
    }
    parts.repo
      .productPicture(match[1]!)
      .then((found) => {
        if (!found) {
          res.status(404).type('text/plain').send('not found');
          return;
        }
        res
          .status(200)
          .type('image/svg+xml')
          .set('Cache-Control', 'public, max-age=3600')
          .set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'")
          .send(productSvg(found.name, found.categoryName));
      })
      .catch(next);
  });
}
