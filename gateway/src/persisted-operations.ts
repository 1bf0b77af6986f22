/**
 * Persisted operations: a safelist in Apollo's persisted-query manifest format
 * (`{ "format": "apollo-persisted-query-manifest", "version": 1, "operations": [{ id, name, type, body }] }`,
 * what `@apollo/generate-persisted-query-manifest` and `npm run manifest` write), from one file or
 * every `*.json` file of a directory.
 *
 * Modes:
 *   off      the manifest is not read; automatic persisted queries (APQ) and any text run (default)
 *   allow    listed operations run by id alone (`extensions.persistedQuery.sha256Hash`); anything
 *            else too, APQ included
 *   require  only listed operations run, by id or by their exact text; anything else answers
 *            PERSISTED_QUERY_NOT_LISTED (400). Introspection still runs (GraphiQL loads its schema);
 *            GraphiQL can then run listed operations only: explore in `allow` or `off`.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { OperationDefinitionNode } from 'graphql';
import { Kind, parse } from 'graphql';
import { z } from 'zod';
import { counter, publicError } from '@shop/platform';
import type { Transport } from './rate-limits';

export const PERSISTED_OPERATION_MODES = ['off', 'allow', 'require'] as const;
export type PersistedOperationMode = (typeof PERSISTED_OPERATION_MODES)[number];

export interface PersistedOperationSettings {
  /** Default 'off'. */
  readonly mode?: PersistedOperationMode;
  /** A manifest file, or a directory whose `*.json` files are manifests. Required unless the mode is 'off'. */
  readonly manifest?: string;
}

/** One safelisted operation. */
export interface ListedOperation {
  readonly id: string;
  readonly name: string;
  readonly type: 'query' | 'mutation' | 'subscription';
  readonly body: string;
}

const manifestSchema = z.object({
  format: z.literal('apollo-persisted-query-manifest'),
  version: z.literal(1),
  operations: z.array(
    z.object({
      id: z.string().min(1),
      name: z.string(),
      type: z.enum(['query', 'mutation', 'subscription']),
      body: z.string().min(1),
    }),
  ),
});

const metrics = {
  operations: counter({
    name: 'gateway_persisted_operations_total',
    help: 'Operations by their relation to the safelist: safelisted (listed, by id or text), ad_hoc (not listed, let through), refused (not listed, require mode).',
    labelNames: ['outcome', 'transport'],
  }),
};

/** What a request sends that names an operation. */
export interface OperationSource {
  readonly query?: unknown;
  readonly extensions?: unknown;
}

/** The safelist of one gateway process (see the module comment). */
export class PersistedOperations {
  private readonly byId = new Map<string, ListedOperation>();
  /** sha256 (hex) of every listed body: what Apollo Server computes as the query hash. */
  private readonly bodyHashes = new Set<string>();

  private constructor(
    readonly mode: PersistedOperationMode,
    operations: readonly ListedOperation[],
  ) {
    for (const op of operations) {
      this.byId.set(op.id, op);
      this.bodyHashes.add(sha256(op.body));
    }
  }

  /** Reads the manifest(s) for `allow` and `require`; throws with the file and the problem when one is unusable. */
  static load(settings: PersistedOperationSettings = {}): PersistedOperations {
    const mode = settings.mode ?? 'off';
    if (mode === 'off') return new PersistedOperations('off', []);
    if (!settings.manifest) throw new Error(`persisted operations: mode "${mode}" needs a manifest (PERSISTED_OPERATIONS_MANIFEST: a file or a directory of *.json)`);
    return new PersistedOperations(mode, readManifests(settings.manifest));
  }

  /** Listed operations. */
  get size(): number {
    return this.byId.size;
  }

  /**
   * The listed operation a request names by id (`extensions.persistedQuery.sha256Hash`) when it sends
   * no text; 'unknown-id' (counted as refused) for an id the safelist does not know in require mode.
   */
  lookup(source: OperationSource, transport: Transport): ListedOperation | 'unknown-id' | undefined {
    if (this.mode === 'off') return undefined;
    const id = persistedId(source.extensions);
    if (!id || (typeof source.query === 'string' && source.query !== '')) return undefined;
    const listed = this.byId.get(id);
    if (listed || this.mode === 'allow') return listed;
    metrics.operations.inc({ outcome: 'refused', transport });
    return 'unknown-id';
  }

  /**
   * Whether a resolved operation may run: throws PERSISTED_QUERY_NOT_LISTED (request-level, 400) in
   * require mode for one that is not listed; counts safelisted and ad-hoc operations.
   */
  admit(queryHash: string | undefined, operation: OperationDefinitionNode, transport: Transport, requestLevel = true): void {
    if (this.mode === 'off') return;
    if (queryHash && this.bodyHashes.has(queryHash)) return void metrics.operations.inc({ outcome: 'safelisted', transport });
    if (this.mode === 'allow' || isIntrospectionOnly(operation)) return void metrics.operations.inc({ outcome: 'ad_hoc', transport });
    metrics.operations.inc({ outcome: 'refused', transport });
    throw notListed(requestLevel);
  }
}

/** PERSISTED_QUERY_NOT_LISTED: the operation is not on the safelist. */
export function notListed(requestLevel = true) {
  return publicError('PERSISTED_QUERY_NOT_LISTED', 'This operation is not on the safelist of persisted operations; send a listed operation (by id or text).', { requestLevel });
}

/** The sha256 hex of a text, as Apollo Server hashes query texts. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `extensions.persistedQuery.sha256Hash` of a request, when it is a string. */
function persistedId(extensions: unknown): string | undefined {
  const persisted = (extensions as { persistedQuery?: { sha256Hash?: unknown } } | null | undefined)?.persistedQuery;
  return typeof persisted?.sha256Hash === 'string' ? persisted.sha256Hash : undefined;
}

/** Only `__schema`, `__type` and `__typename` at the root (GraphiQL's schema fetch). */
function isIntrospectionOnly(operation: OperationDefinitionNode): boolean {
  return operation.operation === 'query' && operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && s.name.value.startsWith('__'));
}

function readManifests(location: string): ListedOperation[] {
  let files: string[];
  try {
    files = statSync(location).isDirectory()
      ? readdirSync(location)
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => path.join(location, f))
      : [location];
  } catch (error) {
    throw new Error(`persisted operations: cannot read ${location}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (files.length === 0) throw new Error(`persisted operations: no *.json manifest in ${location}`);
  const byId = new Map<string, ListedOperation & { file: string }>();
  for (const file of files) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`persisted operations: ${file} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    const parsed = manifestSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`persisted operations: ${file} is not an apollo-persisted-query-manifest v1: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
    }
    for (const op of parsed.data.operations) {
      try {
        parse(op.body);
      } catch (error) {
        throw new Error(`persisted operations: ${file}: operation ${op.id} (${op.name}) does not parse: ${error instanceof Error ? error.message : String(error)}`);
      }
      const seen = byId.get(op.id);
      if (seen && seen.body !== op.body) throw new Error(`persisted operations: id ${op.id} has two different bodies (${seen.file} and ${file})`);
      byId.set(op.id, { ...op, file });
    }
  }
  return [...byId.values()].map(({ id, name, type, body }) => ({ id, name, type, body }));
}
