export * from './gateway'; export * from './auth'; export * from './config'; export * from './subgraph-data-source'; export * from './revocations';
