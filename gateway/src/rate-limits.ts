/**
 * The gateway's rate budgets (rate-limiter-flexible), shared by every transport: GraphQL over HTTP
 * (rate-limit.plugin.ts) and subscriptions (subscriptions/server.ts: a connection and a subscribe
 * message each count as a request).
 *
 * Three budgets per caller and window (default 60 s):
 *   requests   every request / connection / subscribe message: per address for anonymous callers
 *              (IPv6 grouped by /64), per user when signed in (two limits: anonymous and user)
 *   mutations  every mutation, on top of `requests`
 *   cost       the query limits' cost estimate of each operation (platform http/query-limits.ts:
 *              operationCost, the estimate `maxCost` bounds), so a few expensive operations use up
 *              what many cheap ones would
 *
 * Counters live in Redis when a client is given (one budget for every gateway replica), else in
 * this process. If Redis fails, each replica falls back to its own in-memory counters
 * (rate-limiter-flexible's insurance limiter): budgets stay enforced, per replica, instead of
 * refusing every request or letting every request through; `gateway_rate_limit_store_up` shows it.
 * Without Redis in a gateway cluster (cluster.ts), the counters live in the cluster's primary
 * (RateLimiterCluster over IPC), so the workers share one budget; should the primary not answer
 * in time, a worker counts on its own meanwhile.
 */
import { createHash } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { OperationDefinitionNode } from 'graphql';
import type { Redis } from 'ioredis';
import ipaddr from 'ipaddr.js';
import { RateLimiterCluster, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Identity, Logger } from '@shop/platform';
import { counter, gauge, operationCost, publicError } from '@shop/platform';

/** How long a cluster worker waits for the primary's counters before it counts on its own. */
const CLUSTER_TIMEOUT_MS = 1_000;

/** The budgets a request can be refused by. */
export const BUDGETS = ['requests', 'mutations', 'cost'] as const;
export type BudgetName = (typeof BUDGETS)[number];

/** Transports that charge the budgets (a metric label). */
export const TRANSPORTS = ['http', 'websocket', 'sse', 'multipart'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** Loopback: the machine's own traffic (the test suites, the benchmarks, `npm start` on a laptop). */
export const DEFAULT_EXEMPT_ADDRESSES: readonly string[] = ['127.0.0.0/8', '::1/128'];

export interface RateLimitSettings {
  /** Off: nothing is counted or refused. Default true. */
  readonly enabled?: boolean;
  /** Length of a budget's window in seconds. Default 60. */
  readonly windowSeconds?: number;
  /** Requests per window of one anonymous client address (IPv6: one /64). Default 100, the design documents' figure. */
  readonly anonymousRequests?: number;
  /** Requests per window of one signed-in user (all their devices together). Default 600. */
  readonly userRequests?: number;
  /** Mutations per window of one caller (user, or anonymous address). Default 60. */
  readonly mutations?: number;
  /** Cost points (operationCost, the query limits' estimate; one operation may cost up to DEFAULT_QUERY_LIMITS.maxCost, 20 000) per window of one caller. Default 100 000. */
  readonly cost?: number;
  /**
   * Client addresses or CIDR ranges never limited. Default {@link DEFAULT_EXEMPT_ADDRESSES}
   * (loopback). Behind a proxy, set the gateway's trust-proxy hops, else every client has the
   * proxy's address; production (k8s) sets this to none.
   */
  readonly exemptAddresses?: readonly string[];
  /** Prefix of the Redis keys. Default 'shop:gateway:rl' (the gateway passes `<REDIS_KEY_PREFIX>gateway:rl`). Replicas that share budgets share it. */
  readonly keyPrefix?: string;
}

/** Who a budget belongs to; `address` is where the request comes from (anonymous budgets key its /64 or IPv4 address; the exemption looks at it for users too). */
export type Caller = { readonly kind: 'user'; readonly userId: string; readonly address: string } | { readonly kind: 'anonymous'; readonly address: string };

/** The outcome of charging a budget, with what the RateLimit headers report. */
export interface Verdict {
  readonly allowed: boolean;
  readonly budget: BudgetName;
  /** The budget's size for this caller. */
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the window ends and the budget is full again. */
  readonly resetSeconds: number;
}

const metrics = {
  refused: counter({ name: 'gateway_rate_limited_total', help: 'Requests, connections and subscribe messages refused with RATE_LIMITED, by budget, caller kind (anonymous, user) and transport.', labelNames: ['budget', 'caller', 'transport'] }),
  storeUp: gauge({ name: 'gateway_rate_limit_store_up', help: '1 while the shared rate-limit store (Redis) is reachable; 0 while each replica counts on its own (in-memory insurance). Absent without Redis.' }),
  storeErrors: counter({ name: 'gateway_rate_limit_store_errors_total', help: 'Errors of the connection to the shared rate-limit store (Redis).' }),
};

// Every series exists from the start at 0 (the labels are bounded: 3 × 2 × 4), so that a dashboard
// shows "none refused" rather than "no data" and rate() sees the first refusal.
for (const budget of BUDGETS) for (const caller of ['anonymous', 'user'] as const) for (const transport of TRANSPORTS) metrics.refused.inc({ budget, caller, transport }, 0);

/** The rate budgets of one gateway process (see the module comment). */
export class RateLimits {
  private readonly limiters: Record<BudgetName | 'anonymousRequests', RateLimiterAbstract>;
  /** Per-process counters used while the cluster's primary does not answer (cluster mode only). */
  private readonly insurance = new Map<RateLimiterAbstract, RateLimiterAbstract>();
  private readonly exempt = new BlockList();
  /** Whether each recent address is exempt (the BlockList's answer, once per address). */
  private readonly exemptions = new Map<string, boolean>();

  private constructor(
    readonly settings: Required<RateLimitSettings>,
    redis: Redis | undefined,
    inCluster: boolean,
  ) {
    const window = settings.windowSeconds;
    const build = (name: string, points: number): RateLimiterAbstract => {
      const keyPrefix = `${settings.keyPrefix}:${name}`;
      const memory = new RateLimiterMemory({ keyPrefix, points, duration: window });
      // rejectIfRedisNotReady: while Redis is away, answer from the insurance at once instead of queueing.
      if (redis) return new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration: window, rejectIfRedisNotReady: true, insuranceLimiter: memory });
      if (!inCluster) return memory;
      const shared = new RateLimiterCluster({ keyPrefix, points, duration: window, timeoutMs: CLUSTER_TIMEOUT_MS });
      this.insurance.set(shared, memory);
      return shared;
    };
    this.limiters = {
      anonymousRequests: build('anon', settings.anonymousRequests),
      requests: build('user', settings.userRequests),
      mutations: build('mutations', settings.mutations),
      cost: build('cost', settings.cost),
    };
    for (const entry of settings.exemptAddresses) addRange(this.exempt, entry);
  }

  /**
   * Builds the budgets; with `redis`, counters are shared through it (the caller owns the client and
   * closes it). Throws on an exempt range that is not an address or CIDR.
   */
  static create(settings: RateLimitSettings = {}, redis?: Redis, options: { readonly cluster?: boolean } = {}): RateLimits {
    return new RateLimits(
      {
        enabled: settings.enabled ?? true,
        windowSeconds: settings.windowSeconds ?? 60,
        anonymousRequests: settings.anonymousRequests ?? 100,
        userRequests: settings.userRequests ?? 600,
        mutations: settings.mutations ?? 60,
        cost: settings.cost ?? 100_000,
        exemptAddresses: settings.exemptAddresses ?? DEFAULT_EXEMPT_ADDRESSES,
        keyPrefix: settings.keyPrefix ?? 'shop:gateway:rl',
      },
      redis,
      options.cluster ?? false,
    );
  }

  /** The caller a budget is charged to: the user when signed in, else the client address (IPv6 by /64). */
  callerOf(identity: Identity | null | undefined, address: string | undefined): Caller {
    const from = normalizeAddress(address);
    return identity ? { kind: 'user', userId: identity.userId, address: from } : { kind: 'anonymous', address: from };
  }

  /**
   * Takes `points` from the caller's budget. Answers null when nothing is counted (limits off, an
   * exempt address); a refused verdict is counted in `gateway_rate_limited_total`.
   */
  async charge(caller: Caller, budget: BudgetName, points: number, transport: Transport): Promise<Verdict | null> {
    if (!this.settings.enabled || points <= 0) return null;
    // The machine's own traffic (tests, benchmarks, a laptop's `npm start`) is exempt whoever signs in.
    if (this.isExempt(caller.address)) return null;
    const limiter = budget === 'requests' && caller.kind === 'anonymous' ? this.limiters.anonymousRequests : this.limiters[budget];
    const key = hashKey(caller);
    const limit = limiter.points;
    try {
      const res = await this.consume(limiter, key, Math.ceil(points));
      return { allowed: true, budget, limit, remaining: res.remainingPoints, resetSeconds: Math.ceil(res.msBeforeNext / 1000) };
    } catch (rejection) {
      // Only refusals reach here: store errors go to the insurance limiter.
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      metrics.refused.inc({ budget, caller: caller.kind, transport });
      return { allowed: false, budget, limit, remaining: 0, resetSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
    }
  }

  /** Charges `requests` (1), then `mutations` (1, for a mutation), then `cost`; answers the first refusal, else the `requests` verdict. */
  async chargeOperation(caller: Caller, operation: OperationDefinitionNode, transport: Transport, options: { readonly request?: boolean } = {}): Promise<Verdict | null> {
    const charges: Array<[BudgetName, number]> = [];
    if (options.request ?? true) charges.push(['requests', 1]);
    if (operation.operation === 'mutation') charges.push(['mutations', 1]);
    charges.push(['cost', operationCost(operation)]);
    let first: Verdict | null = null;
    for (const [budget, points] of charges) {
      const verdict = await this.charge(caller, budget, points, transport);
      if (verdict && !verdict.allowed) return verdict;
      first ??= verdict;
    }
    return first;
  }

  /** Consumes from `limiter`; in a cluster, from this process's own counters when the primary does not answer. */
  private async consume(limiter: RateLimiterAbstract, key: string, points: number): Promise<RateLimiterRes> {
    const insurance = this.insurance.get(limiter);
    if (!insurance) return limiter.consume(key, points);
    try {
      return await limiter.consume(key, points);
    } catch (error) {
      if (error instanceof RateLimiterRes) throw error;
      return insurance.consume(key, points);
    }
  }

  private isExempt(address: string): boolean {
    let exempt = this.exemptions.get(address);
    if (exempt === undefined) {
      const family = isIP(address);
      exempt = family !== 0 && this.exempt.check(address, family === 6 ? 'ipv6' : 'ipv4');
      remember(this.exemptions, address, exempt);
    }
    return exempt;
  }
}

/** RATE_LIMITED for a refused verdict: `extensions.retryAfterSeconds`, HTTP 429 when it refuses the whole request. */
export function rateLimitedError(verdict: Verdict, requestLevel = true) {
  const what = verdict.budget === 'requests' ? 'requests' : verdict.budget === 'mutations' ? 'mutations' : 'expensive operations (by cost)';
  return publicError('RATE_LIMITED', `Too many ${what}; retry in ${verdict.resetSeconds} s.`, { requestLevel, extensions: { retryAfterSeconds: verdict.resetSeconds, budget: verdict.budget, limit: verdict.limit } });
}

/** The `RateLimit-*` headers of a verdict (names fixed by the contract), with `Retry-After` on a refusal. */
export function rateLimitHeaders(verdict: Verdict): Record<string, string> {
  return {
    'RateLimit-Limit': String(verdict.limit),
    'RateLimit-Remaining': String(verdict.remaining),
    'RateLimit-Reset': String(verdict.resetSeconds),
    ...(verdict.allowed ? {} : { 'Retry-After': String(verdict.resetSeconds) }),
  };
}

/** Reports the Redis connection's state in the store metrics. */
export function watchStore(redis: Redis, logger: Logger): void {
  metrics.storeUp.set(redis.status === 'ready' ? 1 : 0);
  redis.on('ready', () => metrics.storeUp.set(1));
  redis.on('close', () => metrics.storeUp.set(0));
  redis.on('error', (err: Error) => {
    metrics.storeErrors.inc();
    logger.warn({ err: err.message }, 'rate-limit store (Redis) error; counting in memory meanwhile');
  });
}

/** How many recent addresses and callers keep their normalized address and key (then the memory starts again). */
const REMEMBERED = 10_000;

/** Sets `key` in a memo of at most {@link REMEMBERED} entries (a full memo starts again: cheaper than an LRU, and only a cost saving). */
function remember<K, V>(memo: Map<K, V>, key: K, value: V): V {
  if (memo.size >= REMEMBERED) memo.clear();
  memo.set(key, value);
  return value;
}

const normalized = new Map<string, string>();

/** The address as the budgets see it: IPv4-mapped IPv6 as IPv4, 'unknown' when there is none (parsed once per recent address). */
function normalizeAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return normalized.get(address) ?? remember(normalized, address, ipaddr.isValid(address) ? ipaddr.process(address).toString() : 'unknown');
}

/** One budget per IPv4 address and per IPv6 /64 (what one subscriber line gets); IPv4-mapped IPv6 counts as IPv4. */
export function clientGroup(address: string | undefined): string {
  if (!address || !ipaddr.isValid(address)) return 'unknown';
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
}

const hashedKeys = new Map<string, string>();

function hashKey(caller: Caller): string {
  // Hashed: neither user ids nor addresses are written to Redis as they are (once per recent caller).
  const raw = caller.kind === 'user' ? `u:${caller.userId}` : `a:${caller.address}`;
  const known = hashedKeys.get(raw);
  if (known !== undefined) return known;
  const key = caller.kind === 'user' ? raw : `a:${clientGroup(caller.address)}`;
  return remember(hashedKeys, raw, createHash('sha256').update(key).digest('base64url').slice(0, 22));
}

function addRange(list: BlockList, entry: string): void {
  const [address = '', prefix] = entry.trim().split('/');
  const family = isIP(address);
  if (family === 0) throw new Error(`rate limits: "${entry}" is not an IP address or CIDR range`);
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (prefix === undefined) list.addAddress(address, type);
  else list.addSubnet(address, Number(prefix), type);
}
