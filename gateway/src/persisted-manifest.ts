/**
 * Builds a safelist manifest (Apollo's persisted-query manifest format) from GraphQL documents, for
 * shop teams whose clients keep their operations in `.graphql` files: `npm run manifest`.
 *
 * Each named operation becomes one entry whose body is the operation followed by the fragments it
 * uses (transitively, sorted by name), printed by graphql-js, and whose id is the sha256 of that
 * body: what a client sends as `extensions.persistedQuery.sha256Hash` when it sends the same text.
 */
import type { DefinitionNode, DocumentNode, FragmentDefinitionNode, OperationDefinitionNode } from 'graphql';
import { Kind, parse, print, visit } from 'graphql';
import type { ListedOperation } from './persisted-operations';
import { sha256 } from './persisted-operations';

/** The manifest file's shape. */
export interface PersistedQueryManifest {
  readonly format: 'apollo-persisted-query-manifest';
  readonly version: 1;
  readonly operations: readonly ListedOperation[];
}

/** One document to read, with where it came from (for error messages). */
export interface ManifestSource {
  readonly name: string;
  readonly text: string;
}

/** Builds the manifest of every named operation of `sources`; throws on anonymous or duplicate operations and unknown fragments. */
export function buildManifest(sources: readonly ManifestSource[]): PersistedQueryManifest {
  const operations = new Map<string, { node: OperationDefinitionNode; source: string }>();
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const source of sources) {
    let document: DocumentNode;
    try {
      document = parse(source.text, { noLocation: true });
    } catch (error) {
      throw new Error(`${source.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) {
        if (fragments.has(definition.name.value)) throw new Error(`${source.name}: fragment ${definition.name.value} is defined twice`);
        fragments.set(definition.name.value, definition);
      } else if (definition.kind === Kind.OPERATION_DEFINITION) {
        const name = definition.name?.value;
        if (!name) throw new Error(`${source.name}: every operation needs a name (clients and metrics refer to it)`);
        const seen = operations.get(name);
        if (seen) throw new Error(`${source.name}: operation ${name} is also defined in ${seen.source}`);
        operations.set(name, { node: definition, source: source.name });
      }
    }
  }
  const listed = [...operations.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, { node, source }]): ListedOperation => {
      const used = [...usedFragments(node, fragments, source)].sort().map((f) => fragments.get(f) as DefinitionNode);
      const body = print({ kind: Kind.DOCUMENT, definitions: [node, ...used] });
      return { id: sha256(body), name, type: node.operation, body };
    });
  return { format: 'apollo-persisted-query-manifest', version: 1, operations: listed };
}

function usedFragments(node: OperationDefinitionNode | FragmentDefinitionNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>, source: string, found = new Set<string>()): Set<string> {
  visit(node, {
    FragmentSpread(spread) {
      const name = spread.name.value;
      if (found.has(name)) return;
      const fragment = fragments.get(name);
      if (!fragment) throw new Error(`${source}: fragment ${name} is used but not defined in any document`);
      found.add(name);
      usedFragments(fragment, fragments, source, found);
    },
  });
  return found;
}
