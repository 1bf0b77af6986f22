/**
 * The gateway's deny list of revoked sessions.
 *
 * Access tokens are self-contained JWTs, so a signed-out session would stay usable until its
 * token expires. The users service announces every revocation (`users.session-revoked.v1`,
 * through its outbox); each gateway replica follows that topic from the beginning of the log when
 * it starts (a consumer group of its own) and keeps the revoked session ids in memory until the
 * last access token they may have expires (15 min by default), so the list stays small.
 *
 * The bus is fast but asynchronous, and a client that signs out and immediately reuses its token
 * must be refused. So the replica that carries a revoking mutation makes it visible before it
 * answers: after `logout` it adds the caller's session at once; after `resetPassword` (and a
 * refresh-token reuse) it waits, up to `syncTimeoutMs`, until the event whose `cause` is the
 * digest of the token the client presented has reached its list. Other replicas learn within the
 * bus latency (milliseconds).
 */
import type { ApolloServerPlugin, GraphQLRequestContextWillSendResponse } from '@apollo/server';
import type { FieldNode, FragmentDefinitionNode, SelectionSetNode } from 'graphql';
import { Kind } from 'graphql';
import { SessionRevoked, sessionRevocationCause, USERS_SESSION_TOPIC } from '@shop/events';
import type { Consumer, EventBus, Logger } from '@shop/platform';
import { counter, gauge, histogram, parseEnvelope, parseEventData } from '@shop/platform';
import type { RevocationList } from './auth';
import type { GatewayContext } from './subgraph-data-source';

/** How long a confirmed `cause` is remembered for a plugin that asks a little late. */
const CAUSE_MEMORY_MS = 5 * 60_000;

const live = new Set<SessionRevocations>();

function revocationMetrics() {
  return {
    size: gauge({
      name: 'gateway_revoked_sessions',
      help: 'Sessions on the deny lists of this process (revoked, with access tokens that have not expired yet).',
      collect() {
        let n = 0;
        for (const list of live) n += list.size;
        this.set(n);
      },
    }),
    applied: counter({ name: 'gateway_session_revocations_total', help: 'Sessions added to the deny list, by source: bus (users events) or response (a logout seen by this replica).', labelNames: ['source'] }),
    syncWait: histogram({ name: 'gateway_revocation_sync_wait_seconds', help: 'Time a revoking mutation waited for its revocation to reach the deny list, by outcome: confirmed or timeout.', labelNames: ['outcome'] }),
  };
}

export interface FollowOptions {
  readonly bus: EventBus;
  readonly logger: Logger;
  /** Names this replica's consumer group (`gateway.live.<instanceId>`). Default random. */
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

/** The deny list: session ids with the time until which they must be refused. */
export class SessionRevocations implements RevocationList {
  private readonly revoked = new Map<string, number>();
  private readonly causes = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly metrics = revocationMetrics();
  private sweeper: NodeJS.Timeout | undefined;
  private following = false;

  constructor(
    /** Longest wait of a revoking mutation for its event. Default 2000 ms. */
    private readonly syncTimeoutMs = 2_000,
  ) {}

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

  /** Denies `sessionIds` until `untilMs` (entries already past are ignored). */
  revoke(sessionIds: readonly string[], untilMs: number, source: 'bus' | 'response' = 'bus'): void {
    if (untilMs <= Date.now()) return;
    for (const id of sessionIds) {
      if ((this.revoked.get(id) ?? 0) < untilMs) this.revoked.set(id, untilMs);
    }
    if (sessionIds.length) this.metrics.applied.inc({ source }, sessionIds.length);
  }

  /** Resolves true once the revocation caused by `cause` is on the list, false after `timeoutMs`. */
  async waitForCause(cause: string, timeoutMs = this.syncTimeoutMs): Promise<boolean> {
    const end = this.metrics.syncWait.startTimer();
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
    end({ outcome: confirmed ? 'confirmed' : 'timeout' });
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
    live.add(this);
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
        groupId: `gateway.live.${options.instanceId ?? Math.random().toString(36).slice(2, 10)}`,
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

  /**
   * The Apollo Server plugin that makes revocations visible on this replica before the revoking
   * mutation answers (see the top of this file).
   */
  plugin(): ApolloServerPlugin<GatewayContext> {
    return {
      requestDidStart: async () => ({
        willSendResponse: async (rc) => {
          if (rc.operation?.operation !== 'mutation' || rc.response.body.kind !== 'single') return;
          const { data, errors } = rc.response.body.singleResult;
          const waits: Array<Promise<boolean>> = [];
          for (const field of topLevelFields(rc)) {
            const key = field.alias?.value ?? field.name.value;
            const value = data?.[key];
            if (field.name.value === 'logout' && value === true && rc.contextValue.identity) {
              this.revoke([rc.contextValue.identity.sessionId], rc.contextValue.identity.exp * 1000, 'response');
            } else if (field.name.value === 'resetPassword' && value === true) {
              const token = argument(rc, field, 'token');
              if (token) waits.push(this.waitForCause(sessionRevocationCause(token)));
            } else if (field.name.value === 'refreshToken' && errors?.some((e) => e.path?.[0] === key && e.extensions?.['reason'] === 'REFRESH_TOKEN_REUSED')) {
              const token = argument(rc, field, 'refreshToken');
              if (token) waits.push(this.waitForCause(sessionRevocationCause(token)));
            }
          }
          if (waits.length && this.following) await Promise.all(waits);
        },
      }),
    };
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, until] of this.revoked) if (until <= now) this.revoked.delete(id);
    for (const [cause, until] of this.causes) if (until <= now) this.causes.delete(cause);
  }

  private stopFollowing(): void {
    this.following = false;
    live.delete(this);
    clearInterval(this.sweeper);
  }
}

type ResponseContext = GraphQLRequestContextWillSendResponse<GatewayContext>;

/** The root fields of the operation, through fragments. */
function topLevelFields(rc: ResponseContext): FieldNode[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of rc.document?.definitions ?? []) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const fields: FieldNode[] = [];
  const walk = (set: SelectionSetNode, depth: number): void => {
    if (depth > 5) return;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) fields.push(s);
      else if (s.kind === Kind.INLINE_FRAGMENT) walk(s.selectionSet, depth + 1);
      else {
        const fragment = fragments.get(s.name.value);
        if (fragment) walk(fragment.selectionSet, depth + 1);
      }
    }
  };
  if (rc.operation) walk(rc.operation.selectionSet, 0);
  return fields;
}

/** A string argument of a field, literal or from the request's variables. */
function argument(rc: ResponseContext, field: FieldNode, name: string): string | null {
  const node = field.arguments?.find((a) => a.name.value === name)?.value;
  if (!node) return null;
  if (node.kind === Kind.STRING) return node.value;
  if (node.kind === Kind.VARIABLE) {
    const value = rc.request.variables?.[node.name.value];
    return typeof value === 'string' ? value : null;
  }
  return null;
}
