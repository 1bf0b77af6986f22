import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createDataSource, createLogger, PlatformOutboxInbox1700000000000 } from '@shop/platform';
import { createTestDatabase, eventually } from '@shop/platform/testing';
import type { TestDatabase } from '@shop/platform/testing';
import { NotificationDispatcher as MailDispatcher } from '../src/notifications/dispatcher';
import type { MailMessage, Mailer } from '../src/mail/mailer';
import { usersService } from '../src/service';
import { OutgoingMailRepository } from '../src/persistence/outgoing-mail.repository';
import { PiiCipher } from '@shop/platform';

const cipher = new PiiCipher(`test:${randomBytes(32).toString('base64')}`);
const logger = createLogger('users', 'silent');

/** A transport that records, and fails the first `failures` sends. */
function recordingMailer(failures = 0): Mailer & { sent: MailMessage[] } {
  const sent: MailMessage[] = [];
  let left = failures;
  return {
    kind: 'test',
    sent,
    send: async (m) => {
      if (left-- > 0) throw new Error('421 try again later');
      sent.push(m);
    },
    close: async () => undefined,
  };
}

describe('the mail outbox and its dispatcher', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const dispatchers: MailDispatcher[] = [];
  const start = (mailer: Mailer, extra: Partial<ConstructorParameters<typeof MailDispatcher>[0]> = {}) => {
    const d = new MailDispatcher({ dataSource: ds, mailer, cipher, logger, pollIntervalMs: 20, retryBaseMs: 20, ...extra }).start();
    dispatchers.push(d);
    return d;
  };
  const queue = (key: string, to = 'ada@example.com') =>
    ds.transaction((tx) => new OutgoingMailRepository(tx, cipher).enqueue(key, { to, subject: `Mail ${key}`, text: 'text', html: '<p>html</p>', template: 'welcome' }));
  const statusOf = async (key: string) =>
    ((await ds.query('SELECT status, attempts, payload_enc, last_error FROM outgoing_mail WHERE dedupe_key = $1', [key])) as Array<{ status: string; attempts: number; payload_enc: string | null; last_error: string | null }>)[0];

  beforeAll(async () => {
    db = await createTestDatabase('users_mail');
    ds = createDataSource({ url: db.url, name: 'users-mail-test', entities: [], migrations: [PlatformOutboxInbox1700000000000, ...usersService.migrations] });
    await ds.initialize();
    await ds.runMigrations();
  });
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.stop()));
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('should keep a queued mail until a dispatcher runs, send it once, and wipe its payload', async () => {
    expect(await queue('welcome:1')).toBe(true);
    expect(await queue('welcome:1')).toBe(false); // the same mail asked twice: one row
    const row = await statusOf('welcome:1');
    expect(row).toMatchObject({ status: 'pending', attempts: 0 });
    expect(row!.payload_enc).not.toContain('ada@example.com');

    const mailer = recordingMailer();
    start(mailer);
    await eventually(async () => (await statusOf('welcome:1'))?.status === 'sent');
    expect(mailer.sent.map((m) => m.subject)).toEqual(['Mail welcome:1']);
    expect(await statusOf('welcome:1')).toMatchObject({ status: 'sent', attempts: 1, payload_enc: null });
  });

  it('should retry a mail the transport refused, then give up after maxAttempts and keep it for an operator', async () => {
    await queue('retry:1');
    const flaky = recordingMailer(2);
    start(flaky, { maxAttempts: 5 });
    await eventually(async () => (await statusOf('retry:1'))?.status === 'sent', 10_000);
    expect(await statusOf('retry:1')).toMatchObject({ attempts: 3, last_error: null });
    expect(flaky.sent).toHaveLength(1);
    await Promise.all(dispatchers.splice(0).map((d) => d.stop()));

    await queue('doomed:1');
    start(recordingMailer(1_000), { maxAttempts: 2 });
    await eventually(async () => (await statusOf('doomed:1'))?.status === 'failed', 10_000);
    const failed = await statusOf('doomed:1');
    expect(failed).toMatchObject({ attempts: 2, last_error: '421 try again later' });
    expect(failed!.payload_enc).toMatch(/^v1:test:/);
  });

  it('should never send a mail twice when several replicas dispatch at once', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `burst:${i}`);
    for (const key of keys) await queue(key);
    const a = recordingMailer();
    const b = recordingMailer();
    start(a, { batchSize: 3 });
    start(b, { batchSize: 3 });
    await eventually(async () => {
      const [{ n }] = (await ds.query("SELECT count(*)::int AS n FROM outgoing_mail WHERE dedupe_key LIKE 'burst:%' AND status = 'sent'")) as [{ n: number }];
      return n === keys.length;
    }, 15_000);
    const subjects = [...a.sent, ...b.sent].map((m) => m.subject).sort();
    expect(subjects).toEqual(keys.map((k) => `Mail ${k}`).sort());
  });
});
