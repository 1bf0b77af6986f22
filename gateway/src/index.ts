// The public surface of @shop/gateway. Federated subscriptions are in @shop/gateway/subscriptions.
export type { GatewaySettings, RunningGateway } from './gateway';
export { startGateway, SUPERGRAPH_FILE } from './gateway';
export type { AccessTokenVerifier, JwtVerifierOptions, RevocationList } from './auth';
export { bearerToken, jwtVerifier } from './auth';
export { gatewayEnv } from './config';
export type { GatewayContext } from './subgraph-data-source';
export { keepAliveFetcher, SubgraphDataSource } from './subgraph-data-source';
export { SessionRevocations } from './revocations';
