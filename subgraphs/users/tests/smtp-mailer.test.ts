import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { SmtpMailer } from '../src/mail/smtp-mailer';
import type { MailMessage } from '../src/mail/mailer';

interface Received {
  from: string;
  to: string[];
  raw: string;
  user?: string;
}

/** A real SMTP server on a free port that records what it accepts. */
async function startSmtpServer(options: { requireAuth?: boolean; rejectRecipient?: string } = {}) {
  const received: Received[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    authOptional: !options.requireAuth,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'shop' && auth.password === 's3cret-password') return callback(null, { user: auth.username });
      return callback(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, callback) {
      if (address.address === options.rejectRecipient) return callback(Object.assign(new Error('No such user'), { responseCode: 550 }));
      return callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          ...(typeof session.user === 'string' ? { user: session.user } : {}),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const message: MailMessage = {
  to: 'ada@example.com',
  subject: 'Welcome to the Shop',
  text: 'Hello Ada,\n\nyour account is ready.',
  html: '<p>Hello Ada,</p>',
  template: 'welcome',
  messageId: '<0123456789abcdef0123456789abcdef@users.shop.local>',
};

describe('the SMTP mail adapter', () => {
  it('should deliver a multipart mail with its Message-ID to a real SMTP server', async () => {
    const smtp = await startSmtpServer();
    const mailer = new SmtpMailer({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTls: true, from: 'Shop <no-reply@shop.local>' });
    try {
      await mailer.send(message);
      expect(smtp.received).toHaveLength(1);
      const [mail] = smtp.received;
      expect(mail).toMatchObject({ from: 'no-reply@shop.local', to: ['ada@example.com'] });
      expect(mail!.raw).toContain('Subject: Welcome to the Shop');
      expect(mail!.raw).toContain('Message-ID: <0123456789abcdef0123456789abcdef@users.shop.local>');
      expect(mail!.raw).toContain('X-Shop-Template: welcome');
      expect(mail!.raw).toContain('multipart/alternative');
      expect(mail!.raw).toContain('your account is ready.');
    } finally {
      await mailer.close();
      await smtp.close();
    }
  });

  it('should authenticate with SMTP_USER and SMTP_PASSWORD', async () => {
    const smtp = await startSmtpServer({ requireAuth: true });
    const good = new SmtpMailer({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTls: true, user: 'shop', password: 's3cret-password', from: 'no-reply@shop.local' });
    const bad = new SmtpMailer({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTls: true, user: 'shop', password: 'wrong', from: 'no-reply@shop.local' });
    try {
      await good.send(message);
      expect(smtp.received[0]?.user).toBe('shop');
      await expect(bad.send(message)).rejects.toThrow(/Invalid username or password/);
      expect(smtp.received).toHaveLength(1);
    } finally {
      await good.close();
      await bad.close();
      await smtp.close();
    }
  });

  it('should fail when the server refuses the recipient, so the dispatcher retries', async () => {
    const smtp = await startSmtpServer({ rejectRecipient: 'ada@example.com' });
    const mailer = new SmtpMailer({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTls: true, from: 'no-reply@shop.local' });
    try {
      await expect(mailer.send(message)).rejects.toThrow(/No such user/);
      expect(smtp.received).toHaveLength(0);
    } finally {
      await mailer.close();
      await smtp.close();
    }
  });
});
