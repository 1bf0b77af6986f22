/**
 * Run by kafka-startup.kafka.test.ts in a child process that the test then SIGKILLs: one member of
 * a consumer group, with client id `killed-member`. Prints `joined` once it has its assignment.
 */
import { KafkaBus } from '../../src/events/kafka-bus';

async function main(): Promise<void> {
  const [brokers = '', namespace = '', groupId = '', topic = ''] = process.argv.slice(2);
  const bus = new KafkaBus({ brokers: brokers.split(','), namespace, clientId: 'killed-member', partitions: 3 });
  await bus.subscribe({ groupId, topics: [topic], handle: async () => undefined });
  process.stdout.write('joined\n');
  setInterval(() => undefined, 60_000); // stay in the group until killed
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error instanceof Error ? error.stack : error)}\n`);
  process.exit(1);
});
