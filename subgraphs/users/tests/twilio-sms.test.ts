/**
 * The Twilio adapter of the SMS port against a local fake of Twilio's Messages API (a real HTTP
 * server in the test, never the internet), and the dispatcher delivering through it.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import { createDataSource, createLogger, PiiCipher, PlatformOutboxInbox1700000000000 } from '@shop/platform';
import { createTestDatabase, eventually } from '@shop/platform/testing';
import type { TestDatabase } from '@shop/platform/testing';
import { NotificationDispatcher } from '../src/notifications/dispatcher';
import { PermanentDeliveryError } from '../src/notifications/sms';
import { TwilioSms } from '../src/notifications/twilio-sms';
import { usersService } from '../src/service';
import { OutgoingMailRepository } from '../src/persistence/outgoing-mail.repository';

interface Received {
  path: string;
  authorization: string | undefined;
  form: URLSearchParams;
}

/** A fake of `POST /2010-04-01/Accounts/{sid}/Messages.json`: records requests, answers what `answer` says. */
class FakeTwilio {
  readonly received: Received[] = [];
  answer: (n: number) => { status: number; body: unknown } = () => ({ status: 201, body: { sid: `SM${randomBytes(16).toString('hex')}`, status: 'queued' } });
  private server!: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void readBody(req).then((body) => {
        this.received.push({ path: req.url ?? '', authorization: req.headers.authorization, form: new URLSearchParams(body) });
        const { status, body: answer } = this.answer(this.received.length);
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => resolve(body));
  });
}

const message = { to: '+14155550100', text: 'Shop: order SH-1 shipped with DHL, tracking JD1.', template: 'order-shipped' as const, messageId: '<x@users.shop.local>' };

describe('the Twilio SMS adapter', () => {
  const fake = new FakeTwilio();
  let url: string;
  beforeAll(async () => {
    url = await fake.start();
  });
  afterAll(async () => {
    await fake.stop();
  });
  beforeEach(() => {
    fake.received.length = 0;
    fake.answer = () => ({ status: 201, body: { sid: 'SM1', status: 'queued' } });
  });

  it('should post the message to the account Messages resource with Basic auth and form fields', async () => {
    await new TwilioSms({ accountSid: 'AC123', authToken: 'secret-token', from: '+15005550006', baseUrl: url }).send(message);
    expect(fake.received).toHaveLength(1);
    const [r] = fake.received;
    expect(r!.path).toBe('/2010-04-01/Accounts/AC123/Messages.json');
    expect(r!.authorization).toBe(`Basic ${Buffer.from('AC123:secret-token').toString('base64')}`);
    expect(Object.fromEntries(r!.form)).toEqual({ To: '+14155550100', From: '+15005550006', Body: message.text });
  });

  it('should send from a Messaging Service when the sender is one', async () => {
    await new TwilioSms({ accountSid: 'AC123', authToken: 't', from: 'MG0123456789abcdef', baseUrl: url }).send(message);
    expect(fake.received[0]!.form.get('MessagingServiceSid')).toBe('MG0123456789abcdef');
    expect(fake.received[0]!.form.has('From')).toBe(false);
  });

  it('should throw a retryable error on a 5xx or 429 and a permanent one for an invalid number', async () => {
    const sms = new TwilioSms({ accountSid: 'AC123', authToken: 't', from: '+15005550006', baseUrl: url });
    fake.answer = () => ({ status: 503, body: { code: 20503, message: 'Service unavailable' } });
    await expect(sms.send(message)).rejects.toThrow('Twilio answered 503 (code 20503): Service unavailable');
    await expect(sms.send(message)).rejects.not.toBeInstanceOf(PermanentDeliveryError);
    fake.answer = () => ({ status: 429, body: { code: 20429, message: 'Too Many Requests' } });
    await expect(sms.send(message)).rejects.not.toBeInstanceOf(PermanentDeliveryError);
    fake.answer = () => ({ status: 400, body: { code: 21211, message: "The 'To' number is not a valid phone number." } });
    await expect(sms.send(message)).rejects.toBeInstanceOf(PermanentDeliveryError);
  });

  describe('delivered by the notification dispatcher', () => {
    let db: TestDatabase;
    let ds: DataSource;
    const cipher = new PiiCipher(`test:${randomBytes(32).toString('base64')}`);
    const dispatchers: NotificationDispatcher[] = [];
    beforeAll(async () => {
      db = await createTestDatabase('users_sms');
      ds = createDataSource({ url: db.url, name: 'users-sms-test', entities: [], migrations: [PlatformOutboxInbox1700000000000, ...usersService.migrations] });
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
    const queue = (key: string) =>
      ds.transaction((tx) => new OutgoingMailRepository(tx, cipher).enqueueMany([{ dedupeKey: key, channel: 'SMS', category: 'orderUpdates', message: { to: message.to, text: `${key}`, template: 'order-shipped' } }]));
    const statusOf = async (key: string) => ((await ds.query('SELECT status, attempts, last_error FROM outgoing_mail WHERE dedupe_key = $1', [key])) as Array<{ status: string; attempts: number; last_error: string | null }>)[0];
    const start = (maxAttempts: number) => {
      const d = new NotificationDispatcher({
        dataSource: ds,
        mailer: null,
        sms: new TwilioSms({ accountSid: 'AC123', authToken: 't', from: '+15005550006', baseUrl: url }),
        cipher,
        logger: createLogger('users', 'silent'),
        pollIntervalMs: 20,
        retryBaseMs: 20,
        maxAttempts,
      }).start();
      dispatchers.push(d);
    };

    it('should retry a failing provider until it accepts', async () => {
      fake.answer = (n) => (n <= 2 ? { status: 500, body: { code: 20500, message: 'Internal Server Error' } } : { status: 201, body: { sid: 'SM2' } });
      await queue('sms-retry:1');
      start(5);
      await eventually(async () => (await statusOf('sms-retry:1'))?.status === 'sent', 10_000);
      expect(await statusOf('sms-retry:1')).toMatchObject({ status: 'sent', attempts: 3 });
      expect(fake.received.map((r) => r.form.get('Body'))).toEqual(['sms-retry:1', 'sms-retry:1', 'sms-retry:1']);
    });

    it('should dead-letter after its attempt limit, and at once for a number that cannot receive', async () => {
      fake.answer = () => ({ status: 500, body: { code: 20500, message: 'Internal Server Error' } });
      await queue('sms-doomed:1');
      start(3);
      await eventually(async () => (await statusOf('sms-doomed:1'))?.status === 'failed', 10_000);
      expect(await statusOf('sms-doomed:1')).toMatchObject({ attempts: 3, last_error: 'Twilio answered 500 (code 20500): Internal Server Error' });
      expect(fake.received).toHaveLength(3);

      fake.answer = () => ({ status: 400, body: { code: 21211, message: 'invalid number' } });
      await queue('sms-invalid:1');
      await eventually(async () => (await statusOf('sms-invalid:1'))?.status === 'failed', 10_000);
      expect((await statusOf('sms-invalid:1'))!.attempts).toBe(1);
    });
  });
});
