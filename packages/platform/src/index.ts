// The public surface of @shop/platform: everything a service, the gateway or a launcher may use.
// Test helpers are in @shop/platform/testing; nothing else is reachable from outside the package.

// A service: its definition, settings, start-up and standalone runner.
export type { BackgroundJob, InternalRoutes, PartsOf, RequestContext, RunningService, ServiceDefinition, ServiceDeps, ServiceOptions, SettingsShapeOf } from './service/definition';
export { DEFAULT_DRAIN_TIMEOUT_MS, defineService } from './service/definition';
export { startService } from './service/start';
export { createEventBus, onShutdown, runStandalone, standaloneEnv } from './service/standalone';
export type { NodeEnv, SettingsOf, SettingsOverrides, SettingsShape, SettingsSpec } from './config';
export { ConfigError, configOrExit, defineSettings, env, loadConfig, NO_SETTINGS, parseSettings } from './config';
export { DEVELOPMENT_PII_KEYS, PiiCipher, piiKeysSetting } from './pii-cipher';

// TLS to Postgres and Kafka: settings and the client options they give.
export type { KafkaSecurity, KafkaSecuritySettings, PostgresTlsSettings, ScramLogin, TlsClientOptions } from './tls';
export { assertNoTlsInUrl, explainTlsFailure, kafkaSecurity, kafkaSecuritySettings, postgresTls, postgresTlsSettings, probeTls, TlsVerificationError } from './tls';

// Errors a client may see.
export type { PublicErrorCode, PublicErrorOptions, PublicErrorSpec, QueryLimitCode } from './errors';
export { badRequest, badUserInput, conflict, forbidden, insufficientStock, INTERNAL_ERROR, isClientErrorCode, isPublicErrorCode, maskError, notFound, PUBLIC_ERRORS, publicError, rateLimited, serviceUnavailable, unauthenticated } from './errors';

// Identity between the gateway and the subgraphs; access tokens.
export type { AuthContext, Identity, Role } from './identity';
export { isAdmin, requireAdmin, requireUser, TOKEN_AUDIENCE, TOKEN_ISSUER } from './identity';
export type { InternalRequest, SignOptions, VerifiedRequest, VerifyOptions } from './internal-request';
export {
  bodyDigest,
  CLIENT_ADDRESS_HEADER,
  DEFAULT_INTERNAL_CLOCK_SKEW_SECONDS,
  DEFAULT_INTERNAL_REQUEST_MAX_TTL_SECONDS,
  DEFAULT_INTERNAL_REQUEST_TTL_SECONDS,
  GATEWAY_SIGNATURE_HEADER,
  IDENTITY_HEADER,
  signInternalRequest,
  SUBSCRIBE_METHOD,
  SUBSCRIPTION_IDENTITY_EXTENSION,
  subscriptionBody,
  verifyInternalRequest,
} from './internal-request';
export type { DenyListMetrics, FollowOptions, RevocationFeed, RevocationSource, SessionDenyListOptions } from './revocations';
export { gatewayDenyListMetrics, SessionDenyList, subgraphDenyListMetrics } from './revocations';
export type { IssuedAccessToken } from './access-token';
export { AccessTokenIssuer } from './access-token';

// The event bus, its envelopes, the outbox and the consumers.
export type { BusMessage, Consumer, ConsumerSpec, EventBus, EventLog, LogRange, OutgoingMessage, PartitionBounds } from './events/bus';
export { DEAD_LETTER_HEADERS, defaultDeadLetterTopic, partitionFor, PoisonMessageError, sleep } from './events/bus';
export type { EventEnvelope } from './events/envelope';
export { createEnvelope, parseEnvelope, parseEventData } from './events/envelope';
export type { BatchLock, EventHandler, HandlerOptions, LiveHandler, LiveListenOptions } from './events/consumers';
export { on, onLive } from './events/consumers';
export { Outbox, OutboxRelay, outboxInsert } from './events/outbox';
export type { PreparedEvent } from './events/outbox';
export type { InProcessBusOptions } from './events/in-process-bus';
export { InProcessBus } from './events/in-process-bus';
export type { KafkaBusOptions } from './events/kafka-bus';
export { DEFAULT_TOPIC_PARTITIONS, KafkaBus, kafkaNamespaceSetting } from './events/kafka-bus';
export { eventBusMetrics } from './events/bus-metrics';

// Live events (GraphQL subscriptions): the typed pub/sub, the bounded queue, keep-alive.
export type { LiveEvent, LiveSubscribeOptions } from './live/pubsub';
export { isLiveEvent, LivePubSub } from './live/pubsub';
export type { LivePosition } from './live/live-scope';
export type { CursorPositions, LiveResume } from './live/resume';
export { cursorExpired, decodeCursor, encodeCursor, LiveLog, liveResumeOf, MAX_CURSOR_LENGTH, RESUME_FROM } from './live/resume';
export type { AsyncQueueOptions } from './live/queue';
export { AsyncQueue, mapStream } from './live/queue';
export { keepAlive, PongWatch } from './live/keep-alive';

// Scheduling of background work.
export type { PeriodicJobOptions, PollingLoopOptions } from './scheduler';
export { every, PollingLoop } from './scheduler';

// Databases.
export type { DataSourceOptions } from './db/data-source';
export { createDataSource, databasePoolSettings, DEFAULT_DB_POOL_ACQUIRE_TIMEOUT_MS, DEFAULT_DB_POOL_MAX, ensureDatabase, initializeDataSource, instrumentDataSource, runMigrationsLocked, withDatabase } from './db/data-source';
export { PlatformOutboxInbox1700000000000 } from './db/platform.migration';
export { afterCommit } from './db/after-commit';
export { isDatabaseUnavailable } from './db/unavailable';
export type { EmbeddedPostgresHandle, EmbeddedPostgresOptions } from './db/embedded-postgres';
export { assertPortFree, EmbeddedPostgresStartError, PortUnavailableError, startEmbeddedPostgres } from './db/embedded-postgres';

// HTTP, GraphQL, logs, metrics and traces.
export { mountOperationalRoutes, servedRequestMetrics } from './http/operational-routes';
export { graphqlBody, jsonErrorHandler, sendGraphqlError } from './http/graphql-body';
export type { QueryLimits } from './http/query-limits';
export { DEFAULT_QUERY_LIMITS, exceedsTokenLimit, operationCost, queryLimitRules, useExecutionBounds, withLimitCode } from './http/query-limits';
export { operationOutcome, useGraphqlMetrics } from './http/graphql-metrics.plugin';
export { loadSdl } from './sdl';
export type { LogFormat, Logger } from './logger';
export { createLogger, logFields, logFormat } from './logger';
export { bindRequestId, currentRequestId, REQUEST_ID_HEADER, requestIdFrom, withRequestId } from './request-id';
export type { GaugeSample } from './metrics';
export { boundedLabel, collectProcessMetrics, counter, filterExposition, gauge, histogram, LATENCY_BUCKETS, memoize, metricsFor, registerServedService, registry, sourcedGauge } from './metrics';
export type { ReadableSpan, Tracing, TracingOptions } from './tracing';
export { configuredExporter, extractTraceContext, flushTraces, initTracing, initTracingFromEnv, injectTraceContext, InMemorySpanExporter, inSpan, SERVICE_ATTRIBUTE, SERVICE_NAME, traceLogFields, tracer, tracingActive, tracingConfigured } from './tracing';
