import { CompressionTypes, Kafka, logLevel, Partitioners } from 'kafkajs';
import { z } from 'zod';
import type { Admin, Consumer as KafkaConsumer, Producer } from 'kafkajs';
import type { Logger } from '../logger';
import { randomUUID } from 'node:crypto';
import type { BusMessage, Consumer, ConsumerSpec, EventBus, EventLog, LogRange, OutgoingMessage, PartitionBounds } from './bus';
import { DEFAULT_MAX_BATCH_SIZE, deliverBatch } from './bus';
import { consumerGroupLabels, eventBusMetrics, instrumentConsumer } from './bus-metrics';
import { memoize } from '../metrics';
import type { KafkaSecurity } from '../tls';
import { probeTls } from '../tls';

/**
 * Partitions of the topics the adapter creates, unless told otherwise: as many consumers of one
 * group as this can share a topic's load (6 covers the replicas the Kubernetes autoscalers may run).
 */
export const DEFAULT_TOPIC_PARTITIONS = 6;

/** How long ensureTopics() retries transient metadata errors before it gives up. */
const TOPIC_READY_TIMEOUT_MS = 30_000;
/** Longest back-off between kafkajs' reconnection attempts (its default, 30 s, outlasts short broker outages). */
const MAX_RETRY_TIME_MS = 5_000;
/** Pause before a consumer that kafkajs gave up on is replaced. */
const REPLACE_CONSUMER_AFTER_MS = 1_000;
/** A replay read that has not reached the end of its ranges by then fails (the broker is away). */
const LOG_READ_TIMEOUT_MS = 30_000;

interface ConsumerEntry {
  consumer: KafkaConsumer | undefined;
  stopping: boolean;
}
/** Metadata errors of a topic the broker is still creating (or of a controller moving): worth retrying. */
const TRANSIENT_TOPIC_ERRORS = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_CONTROLLER', 'NOT_LEADER_OR_FOLLOWER', 'REQUEST_TIMED_OUT', 'BROKER_NOT_AVAILABLE']);

/** Whether `error` (or its cause; for a per-topic aggregate, each error but TOPIC_ALREADY_EXISTS) is transient. */
function isTransientTopicError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { type, errors } = e as { type?: string; errors?: Array<{ type?: string }> };
    if (type && TRANSIENT_TOPIC_ERRORS.has(type)) return true;
    const pending = errors?.filter((x) => x.type !== 'TOPIC_ALREADY_EXISTS');
    if (pending?.length) return pending.every(isTransientTopicError);
  }
  return false;
}

/**
 * KAFKA_NAMESPACE of every process on Kafka (the subgraphs, the gateway): the adapter's `namespace`,
 * for several shops (staging beside production, parallel test runs) on one cluster. Every process
 * of one shop sets the same. Default none (topics and groups by their own names).
 */
export const kafkaNamespaceSetting = z
  .string()
  .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/, 'expected up to 100 of A-Z a-z 0-9 . _ - (a Kafka topic name prefix)')
  .optional();

/** Options of the Kafka adapter. */
export interface KafkaBusOptions {
  readonly brokers: readonly string[];
  /** Client id reported to the brokers (default `shop`). */
  readonly clientId?: string;
  /** Partitions for topics this adapter creates. Default {@link DEFAULT_TOPIC_PARTITIONS}. */
  readonly partitions?: number;
  /** Replication factor for topics this adapter creates. Default -1 (the broker's default). */
  readonly replicationFactor?: number;
  readonly logger?: Logger;
  /**
   * Prefix (`<namespace>.`) of every topic and consumer group this adapter touches, invisible to
   * publishers and handlers. Lets several shops share one broker (parallel test runs) without
   * sharing consumer groups. Default none.
   */
  readonly namespace?: string;
  /** TLS (and SASL/SCRAM) to the brokers, from `kafkaSecurity(settings)`. Default plaintext. */
  readonly security?: KafkaSecurity | undefined;
}

/**
 * Kafka adapter (kafkajs). Idempotent producer with acks=all and one request in flight, so
 * messages of a key land in order exactly once per publish call; consumers commit an offset only
 * after its handler succeeded (at-least-once), retry in place (keeping per-key order) and then
 * dead-letter. Topics are created on first use with `partitions` partitions.
 */
export class KafkaBus implements EventBus {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private readonly admin: Admin;
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;
  private producerUp = false;
  private readonly knownTopics = new Set<string>();
  private readonly consumers = new Set<ConsumerEntry>();
  private closed = false;
  /** Subscriptions of this adapter, for the consumer-lag gauge. */
  private readonly subscriptions = new Set<ConsumerSpec>();
  private readonly removeLagSource: () => void;

  constructor(private readonly options: KafkaBusOptions) {
    // Lag costs two admin requests per group and topic, so it is measured at most every 2 s.
    this.removeLagSource = eventBusMetrics().lag.addSource(memoize(() => this.consumerLag(), 2_000));
    const log = options.logger;
    this.kafka = new Kafka({
      clientId: options.clientId ?? 'shop',
      brokers: [...options.brokers],
      ...(options.security ? { ssl: options.security.ssl, ...(options.security.sasl ? { sasl: options.security.sasl } : {}) } : {}),
      connectionTimeout: 3_000,
      // Reconnection back-off capped at 5 s (kafkajs' 30 s default kept consumers idle for up to
      // 30 s after a broker came back).
      retry: { initialRetryTime: 200, retries: 8, maxRetryTime: MAX_RETRY_TIME_MS },
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ level, log: entry }) => {
          const { message, ...rest } = entry;
          if (!log) return;
          if (level <= logLevel.ERROR) log.error({ kafka: rest }, message);
          else if (level === logLevel.WARN) log.warn({ kafka: rest }, message);
        },
    });
    this.admin = this.kafka.admin();
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    this.producer.on(this.producer.events.CONNECT, () => (this.producerUp = true));
    this.producer.on(this.producer.events.DISCONNECT, () => (this.producerUp = false));
  }

  private connect(): Promise<void> {
    this.connected ??= (async () => {
      await this.verifyBrokerCertificates();
      try {
        await Promise.all([this.admin.connect(), this.producer.connect()]);
      } catch (error) {
        const sasl = this.options.security?.sasl;
        if (sasl && (error as { name?: string }).name === 'KafkaJSSASLAuthenticationError') {
          throw new Error(`Kafka refused the SASL credentials of user "${sasl.username}" (${sasl.mechanism.toUpperCase()}; check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD): ${(error as Error).message}`, { cause: error });
        }
        throw error;
      }
    })();
    this.connected.catch(() => (this.connected = undefined));
    return this.connected;
  }

  /**
   * With TLS, one handshake with the first bootstrap broker that answers: kafkajs retries an
   * untrusted certificate like a network error (about a minute of retries), this fails at once
   * with the reason. Brokers that do not answer are left to kafkajs' own retries.
   */
  private async verifyBrokerCertificates(): Promise<void> {
    const ssl = this.options.security?.ssl;
    if (!ssl) return;
    for (const broker of this.options.brokers) {
      const at = broker.lastIndexOf(':');
      if ((await probeTls(broker.slice(0, at), Number(broker.slice(at + 1)), ssl, 'KAFKA_SSL_CA_FILE')) === 'verified') return;
    }
  }

  /**
   * Creates the topics that do not exist yet (idempotent, cached) and resolves once every partition
   * of each has a leader. The metadata errors a broker answers while it is still applying a topic
   * just created (UNKNOWN_TOPIC_OR_PARTITION on Kafka 4, LEADER_NOT_AVAILABLE, NOT_CONTROLLER, …)
   * are retried for up to 30 s; kafkajs' own `waitForLeaders` gives up on the first of them.
   */
  async ensureTopics(topics: readonly string[]): Promise<void> {
    const missing = topics.filter((t) => !this.knownTopics.has(t));
    if (missing.length === 0) return;
    await this.connect();
    const deadline = Date.now() + TOPIC_READY_TIMEOUT_MS;
    const retryTransient = async (what: string, attempt: () => Promise<boolean>): Promise<void> => {
      for (let delay = 100; ; delay = Math.min(delay * 2, 1_000)) {
        let lastError: unknown;
        try {
          if (await attempt()) return;
        } catch (error) {
          if (!isTransientTopicError(error)) throw error;
          lastError = error;
        }
        if (Date.now() + delay > deadline) throw new Error(`Kafka topics ${missing.join(', ')}: ${what} within ${TOPIC_READY_TIMEOUT_MS} ms${lastError ? ` (last error: ${String(lastError)})` : ''}`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    };
    await retryTransient('not created', async () => {
      // Only those the broker lacks: kafkajs logs an error for every topic that already exists.
      const existing = new Set(await this.admin.listTopics());
      const absent = missing.filter((t) => !existing.has(t));
      if (absent.length === 0) return true;
      try {
        await this.admin.createTopics({
          waitForLeaders: false,
          topics: absent.map((topic) => ({
            topic,
            numPartitions: this.options.partitions ?? DEFAULT_TOPIC_PARTITIONS,
            replicationFactor: this.options.replicationFactor ?? -1,
          })),
        });
      } catch (error) {
        // Every topic created meanwhile, by another process or an earlier attempt: what we want.
        const errors = (error as { errors?: Array<{ type?: string }> }).errors;
        if (!errors?.length || !errors.every((e) => e.type === 'TOPIC_ALREADY_EXISTS')) throw error;
      }
      return true;
    });
    await retryTransient('have no leader for every partition', async () => {
      const { topics: described } = await this.admin.fetchTopicMetadata({ topics: missing });
      return missing.every((t) => {
        const partitions = described.find((d) => d.name === t)?.partitions ?? [];
        return partitions.length > 0 && partitions.every((p) => p.leader >= 0);
      });
    });
    for (const t of missing) this.knownTopics.add(t);
  }

  /** The broker-side name of a topic or group (see `namespace`). */
  private ns(name: string): string {
    return this.options.namespace ? `${this.options.namespace}.${name}` : name;
  }

  /**
   * The log by position: Kafka offsets per partition; `removed` is the low watermark minus one (what
   * the topic's retention, `retention.ms` on the broker, already deleted).
   */
  readonly log: EventLog = {
    bounds: async (topics: readonly string[]): Promise<PartitionBounds[]> => {
      await this.ensureTopics(topics.map((t) => this.ns(t)));
      const all = await Promise.all(
        topics.map(async (topic) => (await this.admin.fetchTopicOffsets(this.ns(topic))).map((p) => ({ topic, partition: p.partition, last: String(BigInt(p.high) - 1n), removed: String(BigInt(p.low) - 1n) }))),
      );
      return all.flat();
    },
    read: (ranges: readonly LogRange[]) => this.readRanges(ranges),
  };

  /**
   * Reads the ranges with a throwaway consumer group (kafkajs has no group-less fetch): joins,
   * seeks each partition to its start, collects until every range is read, leaves (the group has
   * no committed offset, so the broker forgets it).
   */
  private async readRanges(ranges: readonly LogRange[]): Promise<Array<Omit<BusMessage, 'attempt'>>> {
    const wanted = ranges.filter((r) => BigInt(r.upTo) > BigInt(r.after));
    if (wanted.length === 0) return [];
    const key = (topic: string, partition: number): string => `${topic}#${partition}`;
    const byPartition = new Map(wanted.map((r) => [key(this.ns(r.topic), r.partition), r]));
    const remaining = new Set(byPartition.keys());
    const collected = new Map<string, bigint>();
    const out: Array<Omit<BusMessage, 'attempt'>> = [];
    const consumer = this.kafka.consumer({ groupId: this.ns(`replay.${randomUUID()}`), maxWaitTimeInMs: 200, allowAutoTopicCreation: false, retry: { retries: 5, maxRetryTime: MAX_RETRY_TIME_MS } });
    let finish: (() => void) | undefined;
    const done = new Promise<void>((resolve) => (finish = resolve));
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...new Set(wanted.map((r) => this.ns(r.topic)))], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const k = key(batch.topic, batch.partition);
          const range = byPartition.get(k);
          if (!range || !remaining.has(k)) return;
          const upTo = BigInt(range.upTo);
          for (const message of batch.messages) {
            const offset = BigInt(message.offset);
            // Before the range, or read already (a fetch that ran before the seek took effect).
            if (offset <= (collected.get(k) ?? BigInt(range.after))) continue;
            collected.set(k, offset);
            if (offset > upTo) break;
            const headers: Record<string, string> = {};
            for (const [h, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[h] = Array.isArray(v) ? String(v[0]) : String(v);
            out.push({ topic: range.topic, partition: range.partition, offset: message.offset, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '', headers });
            if (offset === upTo) break;
          }
          if ((collected.get(k) ?? -1n) >= upTo || BigInt(batch.highWatermark) - 1n <= BigInt(range.after)) remaining.delete(k);
          if (remaining.size === 0) finish?.();
        },
      });
      for (const r of wanted) consumer.seek({ topic: this.ns(r.topic), partition: r.partition, offset: String(BigInt(r.after) + 1n) });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), LOG_READ_TIMEOUT_MS)));
      const outcome = await Promise.race([done, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') throw new Error(`Kafka: could not read the log within ${LOG_READ_TIMEOUT_MS} ms`);
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
    // Batches of one partition arrive in offset order, one batch at a time: each partition is in order.
    return out;
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new Error('Event bus is closed.');
    if (messages.length === 0) return;
    await this.ensureTopics([...new Set(messages.map((m) => this.ns(m.topic)))]);
    const byTopic = new Map<string, OutgoingMessage[]>();
    for (const m of messages) byTopic.set(this.ns(m.topic), [...(byTopic.get(this.ns(m.topic)) ?? []), m]);
    await this.producer.sendBatch({
      acks: -1,
      compression: CompressionTypes.None,
      topicMessages: [...byTopic].map(([topic, msgs]) => ({
        topic,
        messages: msgs.map((m) => ({ key: m.key, value: m.value, headers: { ...m.headers } })),
      })),
    });
  }

  async subscribe(spec: ConsumerSpec): Promise<Consumer> {
    if (this.closed) throw new Error('Event bus is closed.');
    const topics = spec.topics.map((t) => this.ns(t));
    await this.ensureTopics(topics);
    const othersInGroup = await this.membersOfOtherProcesses(spec.groupId);
    const entry: ConsumerEntry = { consumer: undefined, stopping: false };
    this.consumers.add(entry);
    this.subscriptions.add(spec);
    const metrics = instrumentConsumer(spec);
    const { running, joined } = await this.runConsumer(spec, topics, entry, metrics);
    // Unless other processes are in the group: their rejoining paces the rebalance (run() joins), a
    // killed one's for up to its 30 s session timeout. Then the consumer starts once the group has
    // settled (the committed offsets lose nothing meanwhile) and a restarted service is ready at once.
    if (othersInGroup) {
      running.catch((err: unknown) => this.options.logger?.error({ err, groupId: spec.groupId }, 'Kafka consumer failed to start'));
    } else {
      await running;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([joined, new Promise((resolve) => (timer = setTimeout(resolve, 30_000)))]);
      clearTimeout(timer);
    }
    return {
      stop: async () => {
        entry.stopping = true;
        this.subscriptions.delete(spec);
        await entry.consumer?.disconnect();
        this.consumers.delete(entry);
      },
    };
  }

  /**
   * One kafkajs consumer for the subscription, in `entry`. kafkajs restarts a consumer after a
   * retriable failure but leaves it stopped after any other (a group join that failed while the
   * broker was away, for example), and the service would then consume nothing until restarted: such
   * a consumer is replaced by a new one (same group, so it resumes at the committed offsets).
   */
  private async runConsumer(
    spec: ConsumerSpec,
    topics: string[],
    entry: ConsumerEntry,
    metrics: ReturnType<typeof instrumentConsumer>,
  ): Promise<{ running: Promise<void>; joined: Promise<void> }> {
    const consumer = this.kafka.consumer({
      groupId: this.ns(spec.groupId),
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      rebalanceTimeout: 30_000,
      // A fetch waits this long for data when the topic is idle, and disconnect() waits for it:
      // kafkajs' 5 s default made every consumer stop take ~5 s. Data still arrives at once.
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      retry: { retries: 10, maxRetryTime: MAX_RETRY_TIME_MS },
    });
    entry.consumer = consumer;
    const replace = (err: unknown): void => {
      if (entry.stopping || this.closed || entry.consumer !== consumer) return;
      this.options.logger?.error({ err, groupId: spec.groupId }, `Kafka consumer stopped; replacing it in ${REPLACE_CONSUMER_AFTER_MS} ms`);
      const timer = setTimeout(() => {
        if (entry.stopping || this.closed || entry.consumer !== consumer) return;
        void consumer
          .disconnect()
          .catch(() => undefined)
          .then(() => this.runConsumer(spec, topics, entry, metrics))
          .then(({ running }) => running)
          .catch((error: unknown) => {
            // The replacement could not start (the broker still away): drop it and try again later.
            const failed = entry.consumer;
            if (failed && failed !== consumer) void failed.disconnect().catch(() => undefined);
            entry.consumer = consumer;
            replace(error);
          });
      }, REPLACE_CONSUMER_AFTER_MS);
      timer.unref();
    };
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) replace(payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: spec.fromBeginning ?? true });
    // Resolve only once the group has assigned partitions, so that a caller that publishes right
    // after subscribe() (tests, broadcast listeners) does not race the first assignment.
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    const batchSize = spec.handleBatch ? (spec.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE) : 1;
    const running = consumer.run({
      autoCommit: true,
      partitionsConsumedConcurrently: 3,
      // Offsets are resolved by hand, once per delivered batch (see deliverBatch).
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
        const publicTopic = this.options.namespace ? batch.topic.slice(this.options.namespace.length + 1) : batch.topic;
        const messages = batch.messages.map((message) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
          return { topic: publicTopic, partition: batch.partition, offset: message.offset, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '', headers };
        });
        for (let start = 0; start < messages.length; start += batchSize) {
          if (!isRunning() || isStale() || entry.stopping || this.closed) return;
          const chunk = messages.slice(start, start + batchSize);
          const { done, stopped } = await deliverBatch(
            metrics.spec,
            chunk,
            (dlq) => this.publish([dlq]),
            () => entry.stopping || this.closed,
            (_message, outcome) => metrics.finished(publicTopic, outcome),
          );
          if (done > 0) resolveOffset(chunk[done - 1]!.offset);
          // Not resolved: what is left is fetched and delivered again after a restart or rebalance.
          if (stopped) return;
          await commitOffsetsIfNecessary();
          await heartbeat();
        }
      },
    });
    return { running, joined };
  }

  /** Whether the group has members beyond this adapter's own (other replicas, or a killed process's). */
  private async membersOfOtherProcesses(groupId: string): Promise<boolean> {
    const ours = [...this.subscriptions].filter((s) => s.groupId === groupId).length;
    try {
      const { groups } = await this.admin.describeGroups([this.ns(groupId)]);
      return (groups[0]?.members.length ?? 0) > ours;
    } catch {
      return false; // cannot tell: wait for the assignment, as for a new group
    }
  }

  /**
   * Per durable group of this adapter and topic: the messages between the group's committed
   * offset and the end of each partition (from the start of the partition when nothing is committed).
   */
  private async consumerLag(): Promise<Array<{ labels: { service: string; topic: string }; value: number }>> {
    const byGroup = new Map<string, Set<string>>();
    for (const spec of this.subscriptions) {
      if (consumerGroupLabels(spec.groupId).consumer !== 'durable') continue;
      const topics = byGroup.get(spec.groupId) ?? new Set<string>();
      for (const t of spec.topics) topics.add(t);
      byGroup.set(spec.groupId, topics);
    }
    if (byGroup.size === 0 || this.closed) return [];
    await this.connect();
    const ends = new Map<string, Promise<Array<{ partition: number; high: string; low: string }>>>();
    const samples: Array<{ labels: { service: string; topic: string }; value: number }> = [];
    for (const [group, topics] of byGroup) {
      const committed = await this.admin.fetchOffsets({ groupId: this.ns(group), topics: [...topics].map((t) => this.ns(t)) });
      for (const { topic, partitions } of committed) {
        if (!ends.has(topic)) ends.set(topic, this.admin.fetchTopicOffsets(topic));
        let lag = 0;
        for (const end of await ends.get(topic)!) {
          const offset = Number(partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
          lag += Math.max(0, Number(end.high) - (offset >= 0 ? offset : Number(end.low)));
        }
        samples.push({ labels: { service: group, topic: this.options.namespace ? topic.slice(this.options.namespace.length + 1) : topic }, value: lag });
      }
    }
    return samples;
  }

  async isReady(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.connect();
      return this.producerUp;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.removeLagSource();
    await Promise.allSettled([...this.consumers].map(async (c) => {
      c.stopping = true;
      await c.consumer?.disconnect();
    }));
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
  }
}
