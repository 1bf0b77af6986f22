/**
 * Money arithmetic in minor units (BigInt cents): amounts arrive and leave as decimal strings
 * ("29.99", Postgres numeric(12,2)) and never pass through a float.
 */

/** Parses "29.99", "30", "-1.5" into cents; throws on anything else or more than 2 decimals. */
export function toCents(amount: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(amount.trim());
  if (!m) throw new Error(`Not a money amount: ${JSON.stringify(amount)}`);
  const cents = BigInt(m[2]!) * 100n + BigInt((m[3] ?? '').padEnd(2, '0'));
  return m[1] ? -cents : cents;
}

/** Formats cents as a decimal string with two decimals ("29.90"). */
export function fromCents(cents: bigint): string {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** unitPrice × quantity, exactly. */
export function lineTotal(unitPrice: string, quantity: number): string {
  return fromCents(toCents(unitPrice) * BigInt(quantity));
}

export function sum(amounts: readonly string[]): string {
  return fromCents(amounts.reduce((acc, a) => acc + toCents(a), 0n));
}

/** Normalises a numeric string to two decimals ("29.9" -> "29.90"). */
export function normalize(amount: string): string {
  return fromCents(toCents(amount));
}
