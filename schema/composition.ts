import { readFileSync } from 'node:fs';
import path from 'node:path';
import { composeServices } from '@apollo/composition';
import { buildSchema, parse, printSchema } from 'graphql';
import type { GraphQLSchema } from 'graphql';

interface SupergraphConfig {
  subgraphs: Record<string, { routing_url: string; schema: { file: string } }>;
}

export const SCHEMA_DIR = __dirname;
export const SUPERGRAPH_FILE = path.join(__dirname, 'supergraph.graphql');
export const CONTRACT_FILE = path.resolve(__dirname, '../../shared/contract/api.graphql');

/** The subgraphs named in supergraph.config.json, in order. */
export function subgraphConfig(): Array<{ name: string; url: string; file: string }> {
  const config = JSON.parse(readFileSync(path.join(__dirname, 'supergraph.config.json'), 'utf8')) as SupergraphConfig;
  return Object.entries(config.subgraphs).map(([name, s]) => ({ name, url: s.routing_url, file: path.resolve(__dirname, s.schema.file) }));
}

/** Composes the subgraph schemas; throws with every composition error on failure. */
export function compose(): { supergraphSdl: string; apiSchema: GraphQLSchema } {
  const result = composeServices(
    subgraphConfig().map((s) => ({ name: s.name, url: s.url, typeDefs: parse(readFileSync(s.file, 'utf8')) })),
  );
  if (result.errors) throw new Error(`Composition failed:\n${result.errors.map((e) => `- ${e.message}`).join('\n')}`);
  return { supergraphSdl: result.supergraphSdl, apiSchema: result.schema.toAPISchema().toGraphQLJSSchema() };
}

/** The client-facing API schema of a composed supergraph, as SDL. */
export function printApiSchema(apiSchema: GraphQLSchema): string {
  return printSchema(apiSchema);
}

/** The public contract clients rely on. */
export function contractSchema(): GraphQLSchema {
  return buildSchema(readFileSync(CONTRACT_FILE, 'utf8'));
}
