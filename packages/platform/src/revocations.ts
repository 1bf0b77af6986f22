/**
 * A deny list of revoked sessions, fed by users' session events.
 *
 * Access tokens are self-contained JWTs, so a signed-out session would stay usable until its
 * token expires. The users service announces every revocation (`users.session-revoked.v1`,
 * through its outbox: logout, password reset, refresh-token reuse, roles taken away); whoever keeps
 * this list follows that topic from the beginning of the log when it starts (a consumer group of
 * its own: every replica must see every revocation) and keeps the revoked session ids in memory
 * until the last access token they may have expires (15 min by default), so the list stays small.
 *
 * The gateway keeps one (gateway/src/revocations.ts adds what makes a revocation visible before
 * the revoking mutation answers, and its subscriptions end the streams of a revoked session), and
 * every subgraph keeps its own, so that an identity header replayed after logout is refused by the
 * subgraph itself (docs/notes/security.md).
 */
import { SessionRevoked, USERS_SESSION_TOPIC } from '@shop/events';
import type { Consumer, EventBus } from './events/bus';
import { parseEnvelope, parseEventData } from './events/envelope';
import type { Logger } from './logger';
import { counter, gauge, histogram } from './metrics';

/** How long a confirmed `cause` is remembered for a waiter that asks a little late. */
const CAUSE_MEMORY_MS = 5 * 60_000;

/** Where a revocation came from: the bus (users' events) or a revoking answer seen by this replica. */
export type RevocationSource = 'bus' | 'response';

/** What the list reports to its metrics. */
export interface DenyListMetrics {
  applied(source: RevocationSource, sessions: number): void;
  /** Starts timing a wait for a cause; the returned function records its outcome. */
  syncWait(): (outcome: 'confirmed' | 'timeout') => void;
}

export interface FollowOptions {
  readonly bus: EventBus;
  readonly logger: Logger;
  /** Names this replica's consumer group (`<prefix>.<instanceId>`). Default random. */
  readonly instanceId?: string;
  /**
   * The initial replay counts as done after this long without a message. Default 1000 ms. A
   * heuristic (the bus port does not expose end offsets): generous, since it only delays readiness.
   */
  readonly quietMs?: number;
}

/** A running subscription of the deny list to the users session topic. */
export interface RevocationFeed {
  /** Resolves once the retained log has been replayed (or after 15 s at most). */
  readonly replayed: Promise<void>;
  stop(): Promise<void>;
}

export interface SessionDenyListOptions {
  /** Longest wait of {@link SessionDenyList.waitForCause}. Default 2000 ms. */
  readonly syncTimeoutMs?: number;
  /** Consumer group prefix of {@link SessionDenyList.follow}. Default `gateway.live`. */
  readonly groupPrefix?: string;
  /** Builds the list's metrics. Default: {@link subgraphDenyListMetrics} of service `unknown`. */
  readonly metrics?: (list: SessionDenyList) => DenyListMetrics;
}

/** The deny list: session ids with the time until which they must be refused. */
export class SessionDenyList {
  private readonly revoked = new Map<string, number>();
  private readonly causes = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly listeners = new Set<(sessionIds: readonly string[]) => void>();
  private readonly metrics: DenyListMetrics;
  private readonly syncTimeoutMs: number;
  private readonly groupPrefix: string;
  private sweeper: NodeJS.Timeout | undefined;
  protected following = false;

  constructor(options: SessionDenyListOptions = {}) {
    this.syncTimeoutMs = options.syncTimeoutMs ?? 2_000;
    this.groupPrefix = options.groupPrefix ?? 'gateway.live';
    this.metrics = options.metrics ? options.metrics(this) : subgraphDenyListMetrics('unknown', this);
  }

  /** Sessions currently denied. */
  get size(): number {
    return this.revoked.size;
  }

  isRevoked(sessionId: string): boolean {
    const until = this.revoked.get(sessionId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.revoked.delete(sessionId);
    return false;
  }

  /**
   * Calls `listener` with the sessions of every revocation from now on (live streams end on it).
   * Returns the function that removes it.
   */
  onRevoked(listener: (sessionIds: readonly string[]) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Denies `sessionIds` until `untilMs` (entries already past are ignored). */
  revoke(sessionIds: readonly string[], untilMs: number, source: RevocationSource = 'bus'): void {
    if (untilMs <= Date.now() || sessionIds.length === 0) return;
    for (const id of sessionIds) {
      if ((this.revoked.get(id) ?? 0) < untilMs) this.revoked.set(id, untilMs);
    }
    this.metrics.applied(source, sessionIds.length);
    for (const listener of [...this.listeners]) listener(sessionIds);
  }

  /** Resolves true once the revocation caused by `cause` is on the list, false after `timeoutMs`. */
  async waitForCause(cause: string, timeoutMs = this.syncTimeoutMs): Promise<boolean> {
    const end = this.metrics.syncWait();
    const confirmed = await new Promise<boolean>((resolve) => {
      if ((this.causes.get(cause) ?? 0) > Date.now()) return resolve(true);
      const waiters = this.waiters.get(cause) ?? new Set<() => void>();
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0) this.waiters.delete(cause);
        resolve(true);
      };
      const timer = setTimeout(() => {
        waiters.delete(done);
        if (waiters.size === 0) this.waiters.delete(cause);
        resolve(false);
      }, timeoutMs);
      waiters.add(done);
      this.waiters.set(cause, waiters);
    });
    end(confirmed ? 'confirmed' : 'timeout');
    return confirmed;
  }

  /** Applies one `users.session-revoked.v1` payload. */
  apply(data: { sessionIds: readonly string[]; expiresAt: string; cause?: string | undefined }): void {
    this.revoke(data.sessionIds, Date.parse(data.expiresAt), 'bus');
    if (data.cause) {
      this.causes.set(data.cause, Date.now() + CAUSE_MEMORY_MS);
      for (const wake of [...(this.waiters.get(data.cause) ?? [])]) wake();
    }
  }

  /**
   * Follows the session topic from the beginning of the retained log, with a consumer group of
   * this replica's own (every replica must see every revocation).
   */
  async follow(options: FollowOptions): Promise<RevocationFeed> {
    if (this.following) throw new Error('This revocation list already follows a bus.');
    this.following = true;
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
    const quietMs = options.quietMs ?? 1_000;
    let settle: () => void = () => undefined;
    let quiet: NodeJS.Timeout | undefined;
    const replayed = new Promise<void>((resolve) => {
      const cap = setTimeout(resolve, 15_000);
      cap.unref();
      settle = () => {
        clearTimeout(quiet);
        quiet = setTimeout(() => {
          clearTimeout(cap);
          resolve();
        }, quietMs);
        quiet.unref();
      };
    });
    let consumer: Consumer | undefined;
    try {
      consumer = await options.bus.subscribe({
        groupId: `${this.groupPrefix}.${options.instanceId ?? Math.random().toString(36).slice(2, 10)}`,
        topics: [USERS_SESSION_TOPIC],
        fromBeginning: true,
        maxAttempts: 1,
        handle: async (message) => {
          settle();
          try {
            const envelope = parseEnvelope(message.value);
            if (envelope.type !== SessionRevoked.type) return;
            this.apply(parseEventData(SessionRevoked, envelope).data);
          } catch (error) {
            // A malformed event cannot be fixed by retrying; it must not stop the list either.
            options.logger.error({ err: error, offset: message.offset }, 'ignored an invalid session event');
          }
        },
      });
    } catch (error) {
      this.stopFollowing();
      throw error;
    }
    settle();
    const subscribed = consumer;
    return {
      replayed,
      stop: async () => {
        await subscribed.stop();
        this.stopFollowing();
      },
    };
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, until] of this.revoked) if (until <= now) this.revoked.delete(id);
    for (const [cause, until] of this.causes) if (until <= now) this.causes.delete(cause);
  }

  private stopFollowing(): void {
    this.following = false;
    clearInterval(this.sweeper);
  }
}

/** The lists whose size the subgraph gauge reports, by service. */
const subgraphLists = new Map<string, Set<SessionDenyList>>();

/** Metrics of a subgraph's own deny list (`subgraph_revoked_sessions`, `subgraph_session_revocations_total`), labelled by service. */
export function subgraphDenyListMetrics(service: string, list: SessionDenyList): DenyListMetrics {
  const lists = subgraphLists.get(service) ?? new Set();
  lists.add(list);
  subgraphLists.set(service, lists);
  gauge({
    name: 'subgraph_revoked_sessions',
    help: "Sessions on a subgraph's own deny list (revoked, with access tokens that have not expired yet), by service.",
    labelNames: ['service'],
    collect() {
      for (const [name, set] of subgraphLists) {
        let n = 0;
        for (const l of set) n += l.size;
        this.set({ service: name }, n);
      }
    },
  });
  const applied = counter({ name: 'subgraph_session_revocations_total', help: "Sessions added to a subgraph's own deny list, by service.", labelNames: ['service'] });
  return { applied: (_source, n) => applied.inc({ service }, n), syncWait: () => () => undefined };
}

/** The gateway lists of this process (one per gateway; tests start several). */
const gatewayLists = new Set<SessionDenyList>();

/** Metrics of the gateway's deny list (`gateway_revoked_sessions`, `gateway_session_revocations_total`, `gateway_revocation_sync_wait_seconds`). */
export function gatewayDenyListMetrics(list: SessionDenyList): DenyListMetrics {
  gatewayLists.add(list);
  gauge({
    name: 'gateway_revoked_sessions',
    help: 'Sessions on the deny lists of this process (revoked, with access tokens that have not expired yet).',
    collect() {
      let n = 0;
      for (const l of gatewayLists) n += l.size;
      this.set(n);
    },
  });
  const applied = counter({ name: 'gateway_session_revocations_total', help: 'Sessions added to the deny list, by source: bus (users events) or response (a logout seen by this replica).', labelNames: ['source'] });
  const wait = histogram({ name: 'gateway_revocation_sync_wait_seconds', help: 'Time a revoking mutation waited for its revocation to reach the deny list, by outcome: confirmed or timeout.', labelNames: ['outcome'] });
  return {
    applied: (source, n) => applied.inc({ source }, n),
    syncWait: () => {
      const end = wait.startTimer();
      return (outcome) => end({ outcome });
    },
  };
}
