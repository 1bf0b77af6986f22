/**
 * A URL-safe slug of a name: lower-case ASCII letters, digits and dashes, at most 80 characters.
 * "Wireless Noise-Cancelling Headphones" -> "wireless-noise-cancelling-headphones". Falls back to
 * `fallback` when nothing is left (e.g. a name in a non-Latin script).
 */
export function slugify(text: string, fallback = 'item'): string {
  const slug = text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // accents split off by NFKD: "café" -> "cafe"
    .replace(/[^a-z0-9\s_-]/g, '')
    .trim()
    .replace(/[\s_-]+/g, '-')
    .slice(0, 80)
    .replace(/^-+|-+$/g, '');
  return slug || fallback;
}

/** The first slug of `base`, `base-2`, `base-3`… not in `taken`. */
export function firstFreeSlug(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base}-${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}
