// The public surface of @shop/gateway. Federated subscriptions are in @shop/gateway/subscriptions.
export type { AttachedContext, GatewaySettings, RunningGateway } from './gateway';
export { startGateway, SUPERGRAPH_FILE } from './gateway';
export type { AccessTokenVerifier, JwtVerifierOptions, RevocationList } from './auth';
export { bearerToken, jwtVerifier } from './auth';
export { edgeEnv, edgeSettings, gatewayEnv } from './config';
export type { GatewayContext } from './subgraph-data-source';
export { keepAliveFetcher, SubgraphDataSource } from './subgraph-data-source';
export { SessionRevocations } from './revocations';
export type { Caller, RateLimitSettings, Verdict } from './rate-limits';
export { DEFAULT_EXEMPT_ADDRESSES, RateLimits } from './rate-limits';
export type { ListedOperation, PersistedOperationMode, PersistedOperationSettings } from './persisted-operations';
export { PERSISTED_OPERATION_MODES, PersistedOperations } from './persisted-operations';
export type { ManifestSource, PersistedQueryManifest } from './persisted-manifest';
export { buildManifest } from './persisted-manifest';
