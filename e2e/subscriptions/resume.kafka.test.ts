import { Kafka, logLevel } from 'kafkajs';
import { INVENTORY_STOCK_TOPIC } from '@shop/events';
import { testKafkaBrokers } from '@shop/platform/testing';
import { resumeScenarios } from './resume-scenarios';

// Retention on Kafka: what the broker's retention does, at once: every record of the shop's stock
// topic deleted up to the end (the low watermark moves there).
resumeScenarios('kafka', async (shop) => {
  const admin = new Kafka({ brokers: testKafkaBrokers(), clientId: `${shop.kafkaNamespace}-expire`, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topic = `${shop.kafkaNamespace}.${INVENTORY_STOCK_TOPIC}`;
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.deleteTopicRecords({ topic, partitions: offsets.map((o) => ({ partition: o.partition, offset: o.high })) });
  } finally {
    await admin.disconnect();
  }
});
