/** The rules that choose a notification's channels, and the outbox rows `plan` renders from them. */
import type { NotificationRecipient } from '../src/domain/notifications';
import { channelsFor, DEFAULT_PREFERENCES, mergePreferences, parsePreferences } from '../src/domain/notifications';
import { plan } from '../src/notifications/notifier';

const ada: NotificationRecipient = { userId: '00000000-0000-4000-8000-000000000001', name: 'Ada', email: 'ada@example.com', phone: '+14155550100', emailVerified: true, preferences: DEFAULT_PREFERENCES };

describe('notification channels', () => {
  it('should follow the preferences per category: e-mail only, SMS only, both, none', () => {
    expect(channelsFor({ ...ada, preferences: { ...DEFAULT_PREFERENCES, orderUpdates: ['EMAIL'] } }, 'orderUpdates')).toEqual(['EMAIL']);
    expect(channelsFor({ ...ada, preferences: { ...DEFAULT_PREFERENCES, orderUpdates: ['SMS'] } }, 'orderUpdates')).toEqual(['SMS']);
    expect(channelsFor({ ...ada, preferences: { ...DEFAULT_PREFERENCES, orderUpdates: ['SMS', 'EMAIL'] } }, 'orderUpdates')).toEqual(['EMAIL', 'SMS']);
    expect(channelsFor({ ...ada, preferences: { ...DEFAULT_PREFERENCES, orderUpdates: [] } }, 'orderUpdates')).toEqual([]);
  });

  it('should send no marketing by default, and none to an unverified address even when asked for', () => {
    expect(channelsFor(ada, 'marketing')).toEqual([]);
    const wantsMarketing = { ...ada, preferences: { ...DEFAULT_PREFERENCES, marketing: ['EMAIL', 'SMS'] as const } };
    expect(channelsFor(wantsMarketing, 'marketing')).toEqual(['EMAIL', 'SMS']);
    expect(channelsFor({ ...wantsMarketing, emailVerified: false }, 'marketing')).toEqual([]);
    // Transactional messages still reach an unverified account (it can shop).
    expect(channelsFor({ ...ada, emailVerified: false }, 'orderUpdates')).toEqual(['EMAIL']);
  });

  it('should skip SMS without a phone number and always mail account messages', () => {
    expect(channelsFor({ ...ada, phone: null, preferences: { ...DEFAULT_PREFERENCES, orderUpdates: ['SMS'] } }, 'orderUpdates')).toEqual([]);
    expect(channelsFor({ ...ada, preferences: { ...DEFAULT_PREFERENCES, orderUpdates: [] } }, 'account')).toEqual(['EMAIL']);
  });

  it('should parse stored preferences and merge updates, dropping unknown channels and duplicates', () => {
    expect(parsePreferences({ orderUpdates: ['SMS', 'PIGEON'] })).toEqual({ orderUpdates: ['SMS'], backInStock: ['EMAIL'], marketing: [] });
    expect(mergePreferences(DEFAULT_PREFERENCES, { marketing: ['SMS', 'EMAIL', 'SMS'], backInStock: null })).toEqual({ orderUpdates: ['EMAIL'], backInStock: ['EMAIL'], marketing: ['EMAIL', 'SMS'] });
  });

  it('should render one outbox row per chosen channel, keyed by fact, channel and recipient', () => {
    const rows = plan({ ...ada, preferences: { ...DEFAULT_PREFERENCES, orderUpdates: ['EMAIL', 'SMS'] } }, {
      category: 'orderUpdates',
      template: 'order-rejected',
      key: 'order-rejected:o1',
      data: (name) => ({ name, orderNumber: 'SH-9', reason: 'OUT_OF_STOCK' }),
    });
    expect(rows.map((r) => [r.channel, r.dedupeKey])).toEqual([
      ['EMAIL', `order-rejected:o1:EMAIL:${ada.userId}`],
      ['SMS', `order-rejected:o1:SMS:${ada.userId}`],
    ]);
    expect(rows[1]!.message).toMatchObject({ to: '+14155550100', text: 'Shop: order SH-9 could not be completed: some items are out of stock. You have not been charged.' });
  });
});
