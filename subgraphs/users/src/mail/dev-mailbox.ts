import type { MailMessage, Mailer } from './mailer';

/** A message as the development mailbox shows it. */
export interface MailboxEntry extends MailMessage {
  readonly id: number;
  readonly from: string;
  readonly sentAt: string;
}

/**
 * The development mailbox: keeps the most recent messages in memory (default 200) so that a
 * developer (or a test) can read them at GET /dev/mailbox on the users service. Outside production
 * it also records what a real transport sent. Never enabled when NODE_ENV=production.
 */
export class DevMailbox {
  private readonly entries: MailboxEntry[] = [];
  private nextId = 1;

  constructor(
    private readonly from: string,
    /** Messages kept (oldest dropped first). Default 200. */
    private readonly capacity = 200,
  ) {}

  record(message: MailMessage): void {
    this.entries.push({ ...message, id: this.nextId++, from: this.from, sentAt: new Date().toISOString() });
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /** Newest first; `to` filters by recipient (case-insensitive). */
  list(options: { to?: string | undefined; limit?: number } = {}): MailboxEntry[] {
    const to = options.to?.toLowerCase();
    return this.entries
      .filter((e) => !to || e.to.toLowerCase() === to)
      .reverse()
      .slice(0, options.limit ?? 50);
  }

  /** A mailer that delivers into this mailbox only (the default when no SMTP server is configured). */
  asMailer(): Mailer {
    return { kind: 'dev-mailbox', send: async (m) => this.record(m), close: async () => undefined };
  }

  /** Wraps a real transport so that what it sends also shows in this mailbox. */
  tee(mailer: Mailer): Mailer {
    return {
      kind: mailer.kind,
      send: async (m) => {
        await mailer.send(m);
        this.record(m);
      },
      close: () => mailer.close(),
    };
  }
}
