import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import type { KafkaBrokerHandle } from '../src/testing/kafka-broker';
import { startKafkaBroker } from '../src/testing/kafka-broker';

// A real broker: the first run on a machine also downloads the jars from Maven Central (~10 s), so
// the budget is generous. If the broker cannot start, startKafkaBroker rejects and the test fails.
const TEST_TIMEOUT_MS = 600_000;

/** A port on 127.0.0.1 that nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port assigned'));
      });
    });
  });
}

/** Resolves true if 127.0.0.1:port accepts a TCP connection. */
function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('startKafkaBroker (real single-node KRaft broker)', () => {
  let dataDir: string | undefined;
  let broker: KafkaBrokerHandle | undefined;

  afterEach(async () => {
    await broker?.stop();
    broker = undefined;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    dataDir = undefined;
  });

  test(
    'serves a producer and a consumer group, keeps per-key order, and closes its port on stop()',
    async () => {
      const port = await freePort();
      let controllerPort = await freePort();
      while (controllerPort === port) controllerPort = await freePort();
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'kafka-broker-test-'));

      broker = await startKafkaBroker({ port, controllerPort, dataDir });
      expect(broker.brokers).toEqual([`127.0.0.1:${port}`]);

      const kafka = new Kafka({ clientId: 'kafka-broker-test', brokers: broker.brokers, logLevel: logLevel.NOTHING });
      const topic = `kafka-broker-test-${Date.now()}`;
      const key = 'order-42';
      const values = ['created', 'paid', 'shipped'];

      // The topic does not exist yet: the broker auto-creates it (num.partitions=3) on first produce.
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      try {
        await producer.send({ topic, acks: -1, messages: values.map((value) => ({ key, value })) });
      } finally {
        await producer.disconnect();
      }

      const admin = kafka.admin();
      await admin.connect();
      try {
        const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
        expect(metadata.topics[0]?.partitions).toHaveLength(3);
      } finally {
        await admin.disconnect();
      }

      const received: Array<{ key: string; value: string; partition: number; offset: number }> = [];
      const consumer = kafka.consumer({ groupId: `kafka-broker-test-group-${Date.now()}` });
      await consumer.connect();
      try {
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ partition, message }) => {
            received.push({
              key: message.key?.toString() ?? '',
              value: message.value?.toString() ?? '',
              partition,
              offset: Number(message.offset),
            });
          },
        });
        await waitFor(() => received.length >= values.length, 60_000, `${values.length} messages`);
      } finally {
        await consumer.disconnect();
      }

      // One key -> one partition -> consumed in the order produced.
      expect(received.map((m) => m.key)).toEqual([key, key, key]);
      expect(received.map((m) => m.value)).toEqual(values);
      expect(new Set(received.map((m) => m.partition)).size).toBe(1);
      expect(received.map((m) => m.offset)).toEqual([0, 1, 2]);

      await broker.stop();
      broker = undefined;
      expect(await portAcceptsConnections(port)).toBe(false);
      expect(await portAcceptsConnections(controllerPort)).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );
});
