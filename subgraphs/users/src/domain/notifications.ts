/**
 * Which notifications a user gets, on which channels: the rules, without I/O.
 *
 * Policy (README, docs/notes/users.md): an unverified account can shop and gets every
 * transactional message (order updates, back in stock, account mails), but never marketing.
 */

/** The transports a notification can go through (the schema's NotificationChannel). */
export const NOTIFICATION_CHANNELS = ['EMAIL', 'SMS'] as const;
export type NotificationChannel = (typeof NOTIFICATION_CHANNELS)[number];

/** The categories a user chooses channels for (the fields of NotificationPreferences). */
export const PREFERENCE_CATEGORIES = ['orderUpdates', 'backInStock', 'marketing'] as const;
export type PreferenceCategory = (typeof PREFERENCE_CATEGORIES)[number];

/**
 * Every category of message (bounded: also a metric label). `account` mails (verification,
 * password reset, password changed) are not optional: they always go by e-mail.
 */
export type NotificationCategory = PreferenceCategory | 'account';
export const NOTIFICATION_CATEGORIES: readonly NotificationCategory[] = [...PREFERENCE_CATEGORIES, 'account'];

export type NotificationPreferences = { readonly [C in PreferenceCategory]: readonly NotificationChannel[] };

/** Defaults of a new account: e-mail for orders and back in stock, no marketing. */
export const DEFAULT_PREFERENCES: NotificationPreferences = { orderUpdates: ['EMAIL'], backInStock: ['EMAIL'], marketing: [] };

/** Whom a notification goes to, with what each channel needs. */
export interface NotificationRecipient {
  /** The account, or null for a guest (contact details from a lookup: e-mail only). */
  readonly userId: string | null;
  readonly name: string;
  readonly email: string | null;
  readonly phone: string | null;
  readonly emailVerified: boolean;
  readonly preferences: NotificationPreferences;
  /** A guest's link to their order (with its token), for the order mails. */
  readonly orderLink?: string | null;
}

/**
 * The channels `recipient` gets a message of `category` on: the preferred ones that the
 * recipient has an address for; `account` always by e-mail; `marketing` never to an unverified
 * address.
 */
export function channelsFor(recipient: NotificationRecipient, category: NotificationCategory): NotificationChannel[] {
  if (category === 'account') return recipient.email ? ['EMAIL'] : [];
  if (category === 'marketing' && !recipient.emailVerified) return [];
  return NOTIFICATION_CHANNELS.filter((c) => recipient.preferences[category].includes(c) && (c === 'EMAIL' ? !!recipient.email : !!recipient.phone));
}

/** Parses stored preferences (jsonb), keeping only known channels; missing categories get the default. */
export function parsePreferences(value: unknown): NotificationPreferences {
  const source = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const pick = (c: PreferenceCategory): NotificationChannel[] => {
    const list = source[c];
    return Array.isArray(list) ? NOTIFICATION_CHANNELS.filter((ch) => list.includes(ch)) : [...DEFAULT_PREFERENCES[c]];
  };
  return { orderUpdates: pick('orderUpdates'), backInStock: pick('backInStock'), marketing: pick('marketing') };
}

/** Applies an update: a category left out stays, a list replaces (duplicates dropped, fixed order). */
export function mergePreferences(current: NotificationPreferences, patch: { readonly [C in PreferenceCategory]?: readonly NotificationChannel[] | null }): NotificationPreferences {
  const next = { ...current } as { -readonly [C in PreferenceCategory]: readonly NotificationChannel[] };
  for (const c of PREFERENCE_CATEGORIES) {
    const list = patch[c];
    if (list) next[c] = NOTIFICATION_CHANNELS.filter((ch) => list.includes(ch));
  }
  return next;
}
