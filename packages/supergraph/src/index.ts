export * from './supergraph';
