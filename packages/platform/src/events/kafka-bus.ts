import { CompressionTypes, Kafka, logLevel, Partitioners } from 'kafkajs';
import type { Admin, Consumer as KafkaConsumer, Producer } from 'kafkajs';
import type { Logger } from '../logger';
import type { Consumer, ConsumerSpec, EventBus, OutgoingMessage } from './bus';
import { deliverWithRetry } from './bus';

/** Options of the Kafka adapter. */
export interface KafkaBusOptions {
  readonly brokers: readonly string[];
  /** Client id reported to the brokers (default `shop`). */
  readonly clientId?: string;
  /** Partitions for topics this adapter creates. Default 3. */
  readonly partitions?: number;
  /** Replication factor for topics this adapter creates. Default -1 (the broker's default). */
  readonly replicationFactor?: number;
  readonly logger?: Logger;
  readonly onDeadLetter?: (topic: string) => void;
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
  private readonly consumers = new Set<{ consumer: KafkaConsumer; stopping: boolean }>();
  private closed = false;

  constructor(private readonly options: KafkaBusOptions) {
    const log = options.logger;
    this.kafka = new Kafka({
      clientId: options.clientId ?? 'shop',
      brokers: [...options.brokers],
      connectionTimeout: 3_000,
      retry: { initialRetryTime: 200, retries: 8 },
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
    this.connected ??= Promise.all([this.admin.connect(), this.producer.connect()]).then(() => undefined);
    this.connected.catch(() => (this.connected = undefined));
    return this.connected;
  }

  /** Creates the topics that do not exist yet (idempotent, cached). */
  async ensureTopics(topics: readonly string[]): Promise<void> {
    const missing = topics.filter((t) => !this.knownTopics.has(t));
    if (missing.length === 0) return;
    await this.connect();
    await this.admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: this.options.partitions ?? 3,
        replicationFactor: this.options.replicationFactor ?? -1,
      })),
    });
    for (const t of missing) this.knownTopics.add(t);
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new Error('Event bus is closed.');
    if (messages.length === 0) return;
    await this.ensureTopics([...new Set(messages.map((m) => m.topic))]);
    const byTopic = new Map<string, OutgoingMessage[]>();
    for (const m of messages) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m]);
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
    await this.ensureTopics(spec.topics);
    const consumer = this.kafka.consumer({
      groupId: spec.groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      rebalanceTimeout: 30_000,
      allowAutoTopicCreation: false,
      retry: { retries: 10 },
    });
    const entry = { consumer, stopping: false };
    this.consumers.add(entry);
    await consumer.connect();
    await consumer.subscribe({ topics: [...spec.topics], fromBeginning: spec.fromBeginning ?? true });
    // Resolve only once the group has assigned partitions, so that a caller that publishes right
    // after subscribe() (tests, broadcast listeners) does not race the first assignment.
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.run({
      autoCommit: true,
      partitionsConsumedConcurrently: 3,
      eachMessage: async ({ topic, partition, message, heartbeat }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
        const outcome = await deliverWithRetry(
          spec,
          { topic, partition, offset: message.offset, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '', headers },
          (dlq) => this.publish([dlq]),
          () => entry.stopping || this.closed,
          this.options.onDeadLetter,
        );
        // Not acknowledged: throwing makes kafkajs seek back so the message is redelivered later.
        if (outcome === 'stopped') throw new Error('consumer stopping');
        await heartbeat();
      },
    });
    await Promise.race([joined, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    return {
      stop: async () => {
        entry.stopping = true;
        await consumer.disconnect();
        this.consumers.delete(entry);
      },
    };
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
    await Promise.allSettled([...this.consumers].map(async (c) => {
      c.stopping = true;
      await c.consumer.disconnect();
    }));
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
  }
}
