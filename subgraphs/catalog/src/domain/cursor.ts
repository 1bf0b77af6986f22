import { createHash } from 'node:crypto';
import { badUserInput } from '@shop/platform';

/**
 * Opaque keyset cursors: the sort keys of the last item (as exact text: numerics as written by
 * Postgres, timestamps as integer microseconds, never through a float or a JS Date) plus its id as the tie-breaker, and a short
 * hash of the query they belong to, so a cursor is refused for a different filter or sort instead
 * of silently skipping or repeating items.
 */
export interface CursorPosition {
  readonly keys: readonly string[];
  readonly id: string;
}

interface CursorBody {
  readonly q: string;
  readonly k: readonly string[];
  readonly i: string;
}

/** The type of one sort key, so a tampered cursor is refused before it reaches SQL. */
export type KeyKind = 'decimal' | 'int';

const KEY_PATTERNS: Record<KeyKind, RegExp> = {
  decimal: /^-?\d{1,40}(\.\d{1,40})?$/,
  int: /^-?\d{1,18}$/,
};

/** A short fingerprint of a query (filter + sort), carried in its cursors. */
export function queryFingerprint(query: unknown): string {
  return createHash('sha256').update(JSON.stringify(query)).digest('base64url').slice(0, 10);
}

export function encodeCursor(fingerprint: string, position: CursorPosition): string {
  const body: CursorBody = { q: fingerprint, k: position.keys, i: position.id };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

/**
 * Decodes `after`; null when absent. BAD_USER_INPUT on `field` when it is not a cursor of this
 * query (garbled, or issued for another filter or sort).
 */
export function decodeCursor(field: string, after: string | null | undefined, fingerprint: string, kinds: readonly KeyKind[]): CursorPosition | null {
  if (after === null || after === undefined || after === '') return null;
  let body: Partial<CursorBody>;
  try {
    body = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as Partial<CursorBody>;
  } catch {
    throw badUserInput(field, `${field} is not a valid cursor.`);
  }
  const keys = body?.k;
  if (typeof body !== 'object' || body === null || typeof body.i !== 'string' || !Array.isArray(keys) || keys.length !== kinds.length || !keys.every((k, n) => typeof k === 'string' && KEY_PATTERNS[kinds[n]!].test(k))) {
    throw badUserInput(field, `${field} is not a valid cursor.`);
  }
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(body.i)) throw badUserInput(field, `${field} is not a valid cursor.`);
  if (body.q !== fingerprint) throw badUserInput(field, `${field} belongs to a different filter or sort; start again without it.`);
  return { keys, id: body.i };
}
