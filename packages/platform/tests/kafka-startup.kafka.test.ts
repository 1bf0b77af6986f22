/**
 * What a service's Kafka adapter meets at start-up, on a real broker:
 * - topics that do not exist yet, created by several services at once, which a broker answers
 *   with transient metadata errors for a moment (UNKNOWN_TOPIC_OR_PARTITION on Kafka 4): no start
 *   may fail because of them;
 * - after the service was killed outright (SIGKILL, OOM), its old member still in its consumer
 *   group until that member's session times out (30 s): the restart must not wait for that.
 *   subscribe() returns while the killed member is still in the group (so the service is ready
 *   again at once), and the messages of the group reach the new member once the group has settled.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaBus } from '../src/events/kafka-bus';
import { eventually, testKafkaBrokers, uniqueName } from '../src/testing';

const root = path.resolve(__dirname, '../../..');

describe('new Kafka topics at start-up', () => {
  it('should be created and usable at once by several services starting together', async () => {
    const namespace = uniqueName('fresh');
    const buses = Array.from({ length: 8 }, (_, i) => new KafkaBus({ brokers: testKafkaBrokers(), namespace, clientId: `service-${i}`, partitions: 3 }));
    try {
      // Five waves of eight services starting at the same moment, each ensuring the topics of
      // its wave that all share and two of its own (the broker's answers for a topic just created
      // are a race: several waves make a lost race likely).
      for (let wave = 0; wave < 5; wave++) {
        const shared = [uniqueName(`shared-${wave}`)];
        const outcomes = await Promise.allSettled(buses.map((bus, i) => bus.ensureTopics([...shared, uniqueName(`own-${i}`), uniqueName(`own-${i}`)].map((t) => `${namespace}.${t}`))));
        expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
      }
      // And a new topic is usable right away: a new group's first read and a publish.
      const topic = uniqueName('first-use');
      const received: string[] = [];
      await buses[0]!.subscribe({ groupId: uniqueName('reader'), topics: [topic], handle: async (m) => void received.push(m.value) });
      await buses[1]!.publish([{ topic, key: 'k', value: 'first' }]);
      await eventually(() => received.includes('first'), 30_000);
    } finally {
      await Promise.all(buses.map((b) => b.close()));
    }
  }, 120_000);
});

describe('a Kafka consumer group after one of its processes was killed', () => {
  const namespace = uniqueName('killed');
  const groupId = uniqueName('group');
  const topic = uniqueName('topic');
  const admin = new Kafka({ clientId: 'restart-test', brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  let bus: KafkaBus | undefined;

  beforeAll(() => admin.connect());
  afterAll(async () => {
    await bus?.close();
    await admin.disconnect();
  });

  it("should let the restarted member start at once and give it the group's messages once the group has settled", async () => {
    let out = '';
    const member = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'support/kafka-member.main.ts'), testKafkaBrokers().join(','), namespace, groupId, topic], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    member.stdout.on('data', (c: Buffer) => (out += c.toString()));
    member.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise((resolve) => member.once('exit', resolve));
    await eventually(() => out.includes('joined') || member.exitCode !== null, 60_000, 100).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${out}`);
    });
    expect(out).toContain('joined');
    member.kill('SIGKILL');
    await exited;

    bus = new KafkaBus({ brokers: testKafkaBrokers(), namespace, clientId: 'restarted-member', partitions: 3 });
    const received: string[] = [];
    await bus.subscribe({ groupId, topics: [topic], handle: async (m) => void received.push(m.value) });

    // subscribe() did not wait out the killed member's session: it is still in the group.
    const { groups } = await admin.describeGroups([`${namespace}.${groupId}`]);
    expect(groups[0]?.members.map((m) => m.clientId)).toContain('killed-member');

    await bus.publish([{ topic, key: 'k', value: 'after the restart' }]);
    await eventually(() => received.includes('after the restart'), 90_000, 200);
    expect(received).toEqual(['after the restart']);
  }, 180_000);
});
