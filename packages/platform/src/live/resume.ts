/**
 * Resumable subscriptions, subgraph side: cursors and the replay of the durable log.
 *
 * A live listener (consumers.ts `startLiveListener`) runs each handler inside a {@link LiveScope}
 * naming the bus position of its message, so {@link LivePubSub.publish} knows where each payload
 * sits in the log, and the {@link LiveLog} of the listener keeps the newest position it handled per
 * partition (its "heads").
 *
 * A subscription's cursor is the position up to which it has seen the log, per topic partition
 * (Kafka offsets, or the in-process log's sequence), as of the event it comes with:
 * `base64url(JSON {"v":1,"p":{"<topic>":{"<partition>":"<offset>"}}})`. A fresh subscription starts
 * at the heads; each event moves its own partition forward. Opaque to clients, validated here.
 *
 * Resuming (`resumeFrom`): the subscription joins the pub/sub at once but holds what arrives
 * live; it reads the log from the cursor up to the log's end as of then (the bounds, read after
 * joining, are at or past what live delivery starts after), re-running the same live handlers in
 * capture mode (so a replayed payload is exactly what live delivery would publish) and the
 * subscription's own filter (so authorization is checked per replayed event, as live); then it
 * delivers what it held, leaving out every event at or before what the replay reached on its
 * partition. No gap (the replay reaches at least where live starts), no duplicate (positions
 * compared per partition). A cursor older than what retention removed fails with CURSOR_EXPIRED.
 */
import type { GraphQLError } from 'graphql';
import type { BusMessage, EventLog, PartitionBounds } from '../events/bus';
import type { LiveHandler } from '../events/consumers';
import { parseEnvelope, parseEventData } from '../events/envelope';
import { badUserInput, publicError } from '../errors';
import type { LivePosition } from './live-scope';
import { inLiveScope } from './live-scope';

/** Positions per topic, then partition: offsets as decimal strings. */
export type CursorPositions = Map<string, Map<number, bigint>>;

/** The subscribe message's `extensions.resumeFrom` key. */
export const RESUME_FROM = 'resumeFrom';

const CURSOR_VERSION = 1;
/** Longest cursor accepted (a few hundred topic partitions). */
export const MAX_CURSOR_LENGTH = 8_192;

export function encodeCursor(positions: CursorPositions): string {
  const p: Record<string, Record<string, string>> = {};
  for (const [topic, partitions] of positions) {
    const entry: Record<string, string> = {};
    for (const [partition, offset] of partitions) entry[String(partition)] = offset.toString();
    p[topic] = entry;
  }
  return Buffer.from(JSON.stringify({ v: CURSOR_VERSION, p })).toString('base64url');
}

/** The positions of a client's cursor; BAD_USER_INPUT (field `extensions.resumeFrom`) when it is not one of ours. */
export function decodeCursor(cursor: unknown): CursorPositions | GraphQLError {
  const bad = (why: string): GraphQLError => badUserInput(`extensions.${RESUME_FROM}`, `This resume cursor is not valid (${why}); use the extensions.cursor of an event as it came, or subscribe without resumeFrom.`);
  if (typeof cursor !== 'string' || cursor.length === 0) return bad('expected a non-empty string');
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) return bad('not a cursor');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return bad('not a cursor');
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { v?: unknown }).v !== CURSOR_VERSION) return bad('unknown version');
  const p = (parsed as { p?: unknown }).p;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return bad('no positions');
  const positions: CursorPositions = new Map();
  for (const [topic, partitions] of Object.entries(p as Record<string, unknown>)) {
    if (typeof partitions !== 'object' || partitions === null || Array.isArray(partitions)) return bad('malformed positions');
    const entry = new Map<number, bigint>();
    for (const [partition, offset] of Object.entries(partitions as Record<string, unknown>)) {
      if (!/^\d{1,6}$/.test(partition) || typeof offset !== 'string' || !/^(-1|\d{1,19})$/.test(offset)) return bad('malformed positions');
      entry.set(Number(partition), BigInt(offset));
    }
    positions.set(topic, entry);
  }
  return positions;
}

export function cursorExpired(): GraphQLError {
  return publicError(
    'CURSOR_EXPIRED',
    'This cursor is older than the event log retains: the events after it are gone. Refetch the current state (a query), then subscribe again without resumeFrom.',
  );
}

/** A payload the replay recovered, with its position. */
export interface ReplayedPublish {
  readonly topic: PropertyKey;
  readonly payload: object;
  readonly occurredAt: string | Date | undefined;
  readonly position: LivePosition;
}

/**
 * The log as one live listener sees it: the topics of its handlers, its heads (newest position
 * handled per partition) and the replay of a range through the same handlers. One per service's
 * subscriptions (live/serve.ts builds it), shared by every subscription of that replica.
 */
export class LiveLog {
  readonly topics: readonly string[];
  private readonly heads: CursorPositions = new Map();
  private readonly byType = new Map<string, LiveHandler<any>>();

  constructor(
    private readonly log: EventLog,
    handlers: ReadonlyArray<LiveHandler<any>>,
  ) {
    this.topics = [...new Set(handlers.map((h) => h.event.topic))].sort();
    for (const h of handlers) this.byType.set(h.event.type, h);
  }

  /** The listener handled `message` (called after its handler). */
  handled(message: Pick<BusMessage, 'topic' | 'partition' | 'offset'>): void {
    const topic = this.heads.get(message.topic) ?? new Map<number, bigint>();
    this.heads.set(message.topic, topic);
    const offset = BigInt(message.offset);
    if ((topic.get(message.partition) ?? -1n) < offset) topic.set(message.partition, offset);
  }

  /**
   * Fills the heads of the partitions the listener has not seen a message on yet with the log's
   * end (call once the listener has joined: it starts at the end).
   */
  async seed(): Promise<void> {
    for (const b of await this.log.bounds(this.topics)) {
      const topic = this.heads.get(b.topic) ?? new Map<number, bigint>();
      this.heads.set(b.topic, topic);
      if (!topic.has(b.partition)) topic.set(b.partition, BigInt(b.last));
    }
  }

  /** A copy of the heads: where a fresh subscription starts. */
  start(): CursorPositions {
    return new Map([...this.heads].map(([t, p]) => [t, new Map(p)]));
  }

  /**
   * The publishes of the messages after `from` up to the log's end now, each partition in order;
   * CURSOR_EXPIRED when retention removed some of them. `from` is brought to the log's partitions
   * (a partition the cursor does not name is read from its start) and returned as where the
   * replay ended, per partition.
   */
  async replay(from: CursorPositions): Promise<{ publishes: ReplayedPublish[]; reached: CursorPositions } | GraphQLError> {
    const bounds: PartitionBounds[] = await this.log.bounds(this.topics);
    const reached: CursorPositions = new Map();
    const ranges = [];
    for (const b of bounds) {
      const removed = BigInt(b.removed);
      const given = from.get(b.topic)?.get(b.partition);
      if (given !== undefined && given < removed) return cursorExpired();
      const after = given ?? removed;
      const last = BigInt(b.last);
      const partitions = reached.get(b.topic) ?? new Map<number, bigint>();
      reached.set(b.topic, partitions);
      partitions.set(b.partition, after > last ? after : last);
      if (last > after) ranges.push({ topic: b.topic, partition: b.partition, after: after.toString(), upTo: b.last });
    }
    const messages = await this.log.read(ranges);
    const publishes: ReplayedPublish[] = [];
    for (const message of messages) {
      const envelope = parseEnvelope(message.value);
      const handler = this.byType.get(envelope.type);
      if (!handler) continue;
      const position: LivePosition = { topic: message.topic, partition: message.partition, offset: message.offset };
      const capture = (topic: PropertyKey, payload: object, occurredAt: string | Date | undefined): void => void publishes.push({ topic, payload, occurredAt, position });
      // The handlers publish synchronously (as live): what they publish is captured, in order.
      await inLiveScope({ position, capture }, () => handler.handle(parseEventData(handler.event, envelope)));
    }
    return { publishes, reached };
  }
}

/** What a resolver passes to {@link LivePubSub.subscribe} to make the subscription resumable. */
export interface LiveResume {
  readonly log: LiveLog;
  /** The client's cursor (already validated); undefined for a fresh subscription. */
  readonly from: CursorPositions | undefined;
}

const RESUMES = new WeakMap<object, LiveResume>();

/** Attaches the resume of a subscription to its context (live/serve.ts). */
export function setLiveResume(context: object, resume: LiveResume): void {
  RESUMES.set(context, resume);
}

/** The resume of the subscription whose context this is: pass it to `live.subscribe(topic, { resume })`. */
export function liveResumeOf(context: object): LiveResume | undefined {
  return RESUMES.get(context);
}
