/** A transport of one channel (the mail port's Mailer and the SMS port's SmsSender have this shape). */
export interface Transport<M> {
  readonly kind: string;
  send(message: M): Promise<void>;
  close(): Promise<void>;
}

/** A message as a development outbox shows it. */
export type OutboxEntry<M, Extra = object> = M & Extra & { readonly id: number; readonly sentAt: string };

/**
 * A development outbox: keeps the most recent messages of one channel in memory (oldest dropped
 * first) for a developer or a test to read over HTTP (GET /dev/mailbox, GET /dev/sms-outbox on
 * the users service). Never enabled when NODE_ENV=production.
 */
export class DevOutbox<M extends { readonly to: string }, Extra extends object = object> {
  private readonly entries: Array<OutboxEntry<M, Extra>> = [];
  private nextId = 1;

  constructor(
    private readonly kind: string,
    private readonly extra: Extra,
    /** Messages kept. Default 1000. */
    private readonly capacity = 1000,
  ) {}

  record(message: M): void {
    this.entries.push({ ...message, ...this.extra, id: this.nextId++, sentAt: new Date().toISOString() });
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /** Newest first; `to` filters by recipient (case-insensitive). */
  list(options: { to?: string | undefined; limit?: number } = {}): Array<OutboxEntry<M, Extra>> {
    const to = options.to?.toLowerCase();
    return this.entries
      .filter((e) => !to || e.to.toLowerCase() === to)
      .reverse()
      .slice(0, options.limit ?? 50);
  }

  /** A transport that delivers into this outbox only (the default when no real one is configured). */
  asTransport(): Transport<M> {
    return { kind: this.kind, send: async (m) => this.record(m), close: async () => undefined };
  }

  /** Wraps a real transport so that what it sends also shows here. */
  tee(transport: Transport<M>): Transport<M> {
    return {
      kind: transport.kind,
      send: async (m) => {
        await transport.send(m);
        this.record(m);
      },
      close: () => transport.close(),
    };
  }
}
