import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { composeServices } from '@apollo/composition';
import { buildSchema, parse, printSchema } from 'graphql';
import type { GraphQLSchema } from 'graphql';

interface SupergraphConfig {
  subgraphs: Record<string, { routing_url: string; schema: { file: string } }>;
}

export const SCHEMA_DIR = __dirname;
export const SUPERGRAPH_FILE = path.join(__dirname, 'supergraph.graphql');
/** The public API contract clients rely on, kept in the repository so that a clone is self-contained. */
export const CONTRACT_FILE = path.join(__dirname, 'contract', 'api.graphql');
/**
 * Where the shared contract lives when a checkout of it sits beside this repository (`../shared`).
 * Optional: a clone of this repository alone has none.
 */
export const SHARED_CONTRACT_FILE = path.resolve(__dirname, '../../shared/contract/api.graphql');

/** The subgraphs named in supergraph.config.json, in order. */
export function subgraphConfig(): Array<{ name: string; url: string; file: string }> {
  const config = JSON.parse(readFileSync(path.join(__dirname, 'supergraph.config.json'), 'utf8')) as SupergraphConfig;
  return Object.entries(config.subgraphs).map(([name, s]) => ({ name, url: s.routing_url, file: path.resolve(__dirname, s.schema.file) }));
}

/**
 * Composes the subgraph schemas; throws with every composition error on failure. `urls` replaces
 * the routing URL of the subgraphs it names (default: those of supergraph.config.json).
 */
export function compose(urls: Readonly<Record<string, string>> = {}): { supergraphSdl: string; apiSchema: GraphQLSchema } {
  const result = composeServices(
    subgraphConfig().map((s) => ({ name: s.name, url: urls[s.name] ?? s.url, typeDefs: parse(readFileSync(s.file, 'utf8')) })),
  );
  if (result.errors) throw new Error(`Composition failed:\n${result.errors.map((e) => `- ${e.message}`).join('\n')}`);
  return { supergraphSdl: result.supergraphSdl, apiSchema: result.schema.toAPISchema().toGraphQLJSSchema() };
}

/** The client-facing API schema of a composed supergraph, as SDL. */
export function printApiSchema(apiSchema: GraphQLSchema): string {
  return printSchema(apiSchema);
}

/** The public contract clients rely on (the repository's copy). */
export function contractSchema(): GraphQLSchema {
  return buildSchema(readFileSync(CONTRACT_FILE, 'utf8'));
}

/** The shared contract beside the checkout, or undefined when there is none. */
export function sharedContractSchema(): GraphQLSchema | undefined {
  return existsSync(SHARED_CONTRACT_FILE) ? buildSchema(readFileSync(SHARED_CONTRACT_FILE, 'utf8')) : undefined;
}
