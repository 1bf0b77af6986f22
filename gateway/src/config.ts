import { DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_INTERNAL_REQUEST_TTL_SECONDS, env, kafkaSecuritySettings } from '@shop/platform';

/** Settings the gateway reads from its environment. */
export const gatewayEnv = {
  NODE_ENV: env.nodeEnv(),
  PORT: env.port(4000),
  USERS_URL: env.url().default('http://127.0.0.1:4001/graphql'),
  CATALOG_URL: env.url().default('http://127.0.0.1:4002/graphql'),
  INVENTORY_URL: env.url().default('http://127.0.0.1:4003/graphql'),
  ORDERS_URL: env.url().default('http://127.0.0.1:4004/graphql'),
  INTERNAL_AUTH_SECRET: env.secret(32),
  JWT_SECRET: env.secret(32),
  /** Longest access token lifetime accepted (`exp - iat`), in seconds. Default 3600 (users issues 900). */
  JWT_MAX_LIFETIME_SECONDS: env.int(3600, 60),
  /** Clock difference tolerated for an access token's `iat` in the future, in seconds. Default 30. */
  JWT_CLOCK_SKEW_SECONDS: env.int(30, 0),
  /** Lifetime of the gateway's signature on each subgraph request, in seconds. Default 10. */
  INTERNAL_REQUEST_TTL_SECONDS: env.int(DEFAULT_INTERNAL_REQUEST_TTL_SECONDS, 1),
  GATEWAY_POLL_SUBGRAPHS: env.bool(false),
  DRAIN_TIMEOUT_MS: env.int(DEFAULT_DRAIN_TIMEOUT_MS),
  /** Interface to bind. Default 127.0.0.1; Kubernetes sets 0.0.0.0 (k8s/base/gateway/config.env). */
  HOST: env.string('127.0.0.1'),
  /** Kafka brokers: the gateway follows users' session events to refuse revoked sessions. Required. */
  KAFKA_BROKERS: env.brokers(),
  /** Proxies in front of the gateway whose X-Forwarded-For is trusted for the client address. Default 0 (the socket peer). */
  TRUST_PROXY_HOPS: env.int(0),
  /** TLS and SASL/SCRAM to Kafka (KAFKA_SECURITY_PROTOCOL, KAFKA_SSL_CA_FILE, KAFKA_SASL_USERNAME, …); default plaintext. */
  ...kafkaSecuritySettings.shape,
};
