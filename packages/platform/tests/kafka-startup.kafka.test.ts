/**
 * What a service's Kafka adapter meets at start-up, on a real broker:
 * - topics that do not exist yet, created by several services at once, which a broker answers
 *   with transient metadata errors for a moment (UNKNOWN_TOPIC_OR_PARTITION on Kafka 4): no start
 *   may fail because of them.
 */
import { KafkaBus } from '../src/events/kafka-bus';
import { eventually, testKafkaBrokers, uniqueName } from '../src/testing';

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
