import type { DashboardSpec } from './kit';
import { row, stat, timeseries } from './kit';

/**
 * Per service database cluster: CloudNativePG's exporter has no cluster label; the PodMonitor's
 * `pod` label is `<cluster>-<n>` (orders-db-1), and the cluster is the service's (orders-db).
 */
function byCluster(aggregation: 'sum' | 'max', expr: string, extra = ''): string {
  return `${aggregation} by (cluster${extra}) (label_replace(${expr}, "cluster", "$1", "pod", "(.+)-[0-9]+"))`;
}

/** Is the platform under the services healthy? The Kafka cluster (Strimzi) and each service's Postgres (CloudNativePG). */
export const infrastructureDashboard: DashboardSpec = {
  uid: 'shop-infrastructure',
  title: 'Shop / Infrastructure',
  description: "The Kafka cluster (Strimzi's Kafka exporter and the brokers' metrics reporter) and each service's Postgres cluster (CloudNativePG's exporter). Kubernetes only: npm start has neither.",
  tags: ['infrastructure', 'kafka', 'postgres'],
  rows: [
    row('Kafka', [
      stat('Brokers', { expr: 'max(kafka_brokers)' }, { description: 'Brokers the Kafka exporter sees in the cluster (3 in k8s/base/kafka/kafka.yaml).', thresholds: [[0, 'red'], [3, 'green']], width: 6 }),
      stat('Under-replicated partitions', { expr: 'sum(kafka_topic_partition_under_replicated_partition)' }, {
        description: 'Partitions with fewer in-sync replicas than replicas (should be 0): a broker is down or falling behind; at min.insync.replicas=2 one more loss stops producers.',
        thresholds: [[1, 'red']],
        width: 6,
      }),
      timeseries('Broker requests per second', { expr: 'sum by (request) (rate(kafka_network_requestmetrics_requests_total[$__rate_interval]))', legend: '{{request}}' }, {
        description: 'Requests the brokers served per second by type (Produce, Fetch, OffsetCommit…), from the Strimzi metrics reporter.',
        unit: 'reqps',
        width: 12,
      }),
      timeseries('Messages in per topic', { expr: 'sum by (topic) (rate(kafka_topic_partition_current_offset{topic!~"__.*"}[$__rate_interval]))', legend: '{{topic}}' }, {
        description: 'Messages appended per second to each topic (growth of the partitions\' end offsets).',
        unit: 'short',
        width: 12,
      }),
      timeseries('Consumer group lag', { expr: 'sum by (consumergroup, topic) (kafka_consumergroup_lag)', legend: '{{consumergroup}} ← {{topic}}' }, {
        description: "Messages not yet committed by each consumer group, as the broker sees it (the services' own events_consumer_lag_messages agrees for their durable groups). Alert: ShopConsumerLagGrowing.",
        unit: 'short',
        width: 12,
      }),
    ]),
    row('Postgres (per service)', [
      timeseries('Connections', { expr: byCluster('sum', 'cnpg_backends_total', ', state'), legend: '{{cluster}} {{state}}' }, {
        description: "Backends per database cluster and state (active, idle, idle in transaction). Each service's pool allows 10 per replica; many idle in transaction: a stuck transaction.",
        unit: 'short',
        width: 12,
      }),
      timeseries('Transactions per second', { expr: byCluster('sum', 'rate(cnpg_pg_stat_database_xact_commit[$__rate_interval]) + rate(cnpg_pg_stat_database_xact_rollback[$__rate_interval])'), legend: '{{cluster}}' }, {
        description: 'Commits and rollbacks per second per database cluster.',
        unit: 'ops',
        width: 12,
      }),
      timeseries('Replication lag', { expr: byCluster('max', 'cnpg_pg_replication_lag'), legend: '{{cluster}}' }, {
        description: 'How far the replicas are behind the primary, in seconds (a failover loses at most this much with asynchronous replication).',
        unit: 's',
        thresholds: [[30, 'red']],
        width: 12,
      }),
      timeseries('Deadlocks per minute', { expr: `${byCluster('sum', 'rate(cnpg_pg_stat_database_deadlocks[$__rate_interval])')} * 60`, legend: '{{cluster}}' }, {
        description: 'Deadlocks Postgres detected (and broke by aborting one transaction) per minute; should be 0: two code paths lock rows in different orders.',
        unit: 'short',
        width: 12,
      }),
    ]),
  ],
};
