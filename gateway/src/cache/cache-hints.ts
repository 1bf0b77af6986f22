/**
 * Cache hints of the supergraph: `@cacheControl(maxAge:, scope:)` declared in the subgraph SDLs and
 * carried into the supergraph by `@composeDirective` (subgraphs/catalog/src/schema.graphql), read
 * here from the composed supergraph SDL, and the policy of one subgraph fetch derived from them.
 *
 * A fetch is cacheable only when every leaf it selects has a hint: the nearest one on its path (a
 * field's own hint, else the hint of the object type it belongs to; value types such as Money
 * inherit their parent's). Entity types never inherit: an entity without a hint of its own (User,
 * Order) is user-bound unless its owner says otherwise, and only its key (`id`, `__typename`) may
 * appear under a public parent (a reference), or with its public fields hinted one by one (User's
 * id, username, createdAt). A root field is cacheable only with a hint of its own: whether its
 * answer is the same for every caller is the root field's to say (`me` answers per caller, with
 * fields that are public by their hints). `scope: PRIVATE` anywhere makes the fetch uncacheable.
 * The fetch's age limit is the smallest hint it touches.
 */
import type { ConstArgumentNode, DefinitionNode, DocumentNode, FieldNode, FragmentDefinitionNode, GraphQLSchema, SelectionNode, SelectionSetNode } from 'graphql';
import { getNamedType, getNullableType, isAbstractType, isCompositeType, isInterfaceType, isListType, isObjectType, Kind, parse, print } from 'graphql';

/** One `@cacheControl` application. */
export interface CacheHint {
  /** Seconds; undefined inherits (on a field) or means "no limit of its own". */
  readonly maxAge?: number | undefined;
  readonly private: boolean;
}

/** What a subgraph fetch may do with the cache. */
export interface FetchPolicy {
  readonly kind: 'entities' | 'root';
  /** How long a fetched answer counts as fresh, milliseconds (the smallest hint it touches). */
  readonly maxAgeMs: number;
  /** Response names of the fetch's top-level fields (root) or of the entity fields it adds (entities). */
  readonly fields: readonly string[];
  /**
   * The operation text to send instead of the plan's: the same selection with `__typename` and
   * `id` on every entity object it reaches (dropped again by the gateway's result shaping), so
   * that the answer names every entity it was built from (its cache tags).
   */
  readonly query: string;
  /** Whether the answer holds a list (of products, reviews, …): its membership changes with events of entities it does not hold. */
  readonly lists: boolean;
  /** Root fields (response names) that look one entity up (`product(id:)`): an answer with it found depends on that entity alone. */
  readonly lookups: ReadonlySet<string>;
}

/** The hints of one supergraph. */
export class CacheHints {
  private readonly policies = new WeakMap<DocumentNode, FetchPolicy | null>();

  private constructor(
    private readonly typeHints: ReadonlyMap<string, CacheHint>,
    private readonly fieldHints: ReadonlyMap<string, CacheHint>,
    private readonly entities: ReadonlySet<string>,
    /** Entity types keyed by `id`, with the services (subgraph names) that resolve them. */
    private readonly idEntities: ReadonlyMap<string, ReadonlySet<string>>,
  ) {}

  /** Reads the hints and the entity types (`@join__type(key:)`) of a composed supergraph SDL. */
  static fromSupergraph(sdl: string): CacheHints {
    const typeHints = new Map<string, CacheHint>();
    const fieldHints = new Map<string, CacheHint>();
    const entities = new Set<string>();
    const idEntities = new Map<string, Set<string>>();
    const definitions = parse(sdl, { noLocation: true }).definitions;
    const graphNames = joinGraphNames(definitions);
    for (const definition of definitions) {
      if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION && definition.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
      const name = definition.name.value;
      for (const directive of definition.directives ?? []) {
        if (directive.name.value === 'join__type' && directive.arguments?.some((a) => a.name.value === 'key')) {
          entities.add(name);
          const key = directive.arguments.find((a) => a.name.value === 'key')?.value;
          const graph = directive.arguments.find((a) => a.name.value === 'graph')?.value;
          const service = graph?.kind === Kind.ENUM ? graphNames.get(graph.value) : undefined;
          if (key?.kind === Kind.STRING && key.value.trim() === 'id' && service) {
            const services = idEntities.get(name) ?? new Set<string>();
            services.add(service);
            idEntities.set(name, services);
          }
        }
        if (directive.name.value === 'cacheControl') typeHints.set(name, hintOf(directive.arguments ?? []));
      }
      for (const field of definition.fields ?? []) {
        const hint = field.directives?.find((d) => d.name.value === 'cacheControl');
        if (hint) fieldHints.set(`${name}.${field.name.value}`, hintOf(hint.arguments ?? []));
      }
    }
    return new CacheHints(typeHints, fieldHints, entities, idEntities);
  }

  /** Hinted types and fields (for the start-up log). */
  get size(): number {
    return this.typeHints.size + this.fieldHints.size;
  }

  /**
   * The policy of a subgraph fetch (its operation document, as the query plan holds it; computed
   * once per document), or null when nothing of it may be cached. `capMs` bounds every age.
   */
  policyOf(document: DocumentNode, schema: GraphQLSchema, capMs: number, service?: string): FetchPolicy | null {
    let policy = this.policies.get(document);
    if (policy === undefined) {
      policy = this.computePolicy(document, schema, capMs, service);
      this.policies.set(document, policy);
    }
    return policy;
  }

  private computePolicy(document: DocumentNode, schema: GraphQLSchema, capMs: number, service: string | undefined): FetchPolicy | null {
    const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
    if (!operation || operation.operation !== 'query') return null;
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    const first = operation.selectionSet.selections[0];
    const isEntities = operation.selectionSet.selections.length === 1 && first?.kind === Kind.FIELD && first.name.value === '_entities';
    const walker = new PolicyWalker(this, schema, fragments);
    let maxAge: number | null;
    const fields: string[] = [];
    if (isEntities && first.selectionSet) {
      maxAge = Infinity;
      for (const selection of first.selectionSet.selections) {
        if (selection.kind !== Kind.INLINE_FRAGMENT || !selection.typeCondition) return null;
        const typeName = selection.typeCondition.name.value;
        for (const s of selection.selectionSet.selections) if (s.kind === Kind.FIELD && s.name.value !== '__typename') fields.push(s.alias?.value ?? s.name.value);
        const age = walker.selectionAge(typeName, selection.selectionSet, this.typeHints.get(typeName)?.maxAge);
        if (age === null) return null;
        maxAge = Math.min(maxAge, age);
      }
    } else {
      const root = schema.getQueryType()?.name ?? 'Query';
      for (const s of operation.selectionSet.selections) {
        // A root field without a hint of its own (`me`, `user(id:)`), or a fragment at the root: not cacheable.
        if (s.kind !== Kind.FIELD) return null;
        if (s.name.value !== '__typename' && !this.fieldHints.has(`${root}.${s.name.value}`)) return null;
        fields.push(s.alias?.value ?? s.name.value);
      }
      maxAge = walker.selectionAge(root, operation.selectionSet, undefined);
    }
    if (maxAge === null || !Number.isFinite(maxAge) || maxAge <= 0) return null;
    const tagging = new TaggingRewriter(this, schema, service);
    const rewritten = tagging.document(document, isEntities);
    if (!rewritten) return null;
    const lookups = new Set<string>();
    if (!isEntities) {
      const root = schema.getQueryType();
      for (const s of operation.selectionSet.selections) {
        if (s.kind !== Kind.FIELD) continue;
        const type = root?.getFields()[s.name.value]?.type;
        const nullable = type ? getNullableType(type) : undefined;
        if (nullable && isObjectType(nullable) && this.isEntity(nullable.name)) lookups.add(s.alias?.value ?? s.name.value);
      }
    }
    return { kind: isEntities ? 'entities' : 'root', maxAgeMs: Math.min(maxAge * 1000, capMs), fields, query: print(rewritten), lists: tagging.lists, lookups };
  }

  /** Whether `type` is an entity keyed by `id` in `service` (every entity is, with no service given). */
  isIdEntity(type: string, service: string | undefined): boolean {
    const services = this.idEntities.get(type);
    return services !== undefined && (service === undefined || services.has(service));
  }

  /** @internal */
  typeHint(name: string): CacheHint | undefined {
    return this.typeHints.get(name);
  }

  /** @internal */
  fieldHint(type: string, field: string): CacheHint | undefined {
    return this.fieldHints.get(`${type}.${field}`);
  }

  /** @internal */
  isEntity(name: string): boolean {
    return this.entities.has(name);
  }
}

/** Walks a selection to the smallest age it allows (null: not cacheable). */
class PolicyWalker {
  constructor(
    private readonly hints: CacheHints,
    private readonly schema: GraphQLSchema,
    private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  ) {}

  selectionAge(typeName: string, set: SelectionSetNode, inherited: number | undefined, depth = 0): number | null {
    if (depth > 32) return null;
    const type = this.schema.getType(typeName);
    const typeHint = this.hints.typeHint(typeName);
    if (typeHint?.private) return null;
    const entityWithoutHint = this.hints.isEntity(typeName) && !typeHint;
    let age = Infinity;
    for (const selection of set.selections) {
      let result: number | null;
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        result = this.selectionAge(selection.typeCondition?.name.value ?? typeName, selection.selectionSet, inherited, depth + 1);
      } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = this.fragments.get(selection.name.value);
        result = fragment ? this.selectionAge(fragment.typeCondition.name.value, fragment.selectionSet, inherited, depth + 1) : null;
      } else {
        const name = selection.name.value;
        if (name === '__typename') continue;
        const fieldHint = this.hints.fieldHint(typeName, name);
        // A reference to an entity nobody hinted: its key only, under the parent's hint (and fields
        // its owner hinted one by one).
        if (entityWithoutHint && name !== 'id' && !fieldHint) return null;
        if (fieldHint?.private) return null;
        const own = fieldHint?.maxAge ?? (entityWithoutHint ? inherited : (typeHint?.maxAge ?? inherited));
        const field = isObjectType(type) ? type.getFields()[name] : undefined;
        if (!field) return null;
        const target = getNamedType(field.type);
        if (selection.selectionSet && isCompositeType(target)) {
          // The field's own hint, else the target type's, else the parent's (an unhinted entity
          // below accepts only its key under it).
          const next = fieldHint?.maxAge ?? this.hints.typeHint(target.name)?.maxAge ?? own;
          const nested = this.selectionAge(target.name, selection.selectionSet, next, depth + 1);
          // A field's own hint bounds everything below it, whatever the types there say.
          result = nested === null ? null : Math.min(nested, fieldHint?.maxAge ?? Infinity);
        } else {
          result = own ?? null;
        }
      }
      if (result === null) return null;
      age = Math.min(age, result);
    }
    return age;
  }
}

/** The subgraph names of the supergraph's `join__Graph` values (`CATALOG @join__graph(name: "catalog")`). */
function joinGraphNames(definitions: readonly DefinitionNode[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const d of definitions) {
    if (d.kind !== Kind.ENUM_TYPE_DEFINITION || d.name.value !== 'join__Graph') continue;
    for (const value of d.values ?? []) {
      const name = value.directives?.find((x) => x.name.value === 'join__graph')?.arguments?.find((a) => a.name.value === 'name')?.value;
      if (name?.kind === Kind.STRING) names.set(value.name.value, name.value);
    }
  }
  return names;
}

const TYPENAME: FieldNode = { kind: Kind.FIELD, name: { kind: Kind.NAME, value: '__typename' } };
const ID: FieldNode = { kind: Kind.FIELD, name: { kind: Kind.NAME, value: 'id' } };

/**
 * Adds `__typename` and `id` to every selection of an entity object (and `__typename` to every
 * abstract one) of a fetch, and finds whether it selects lists. Refuses (null) a selection whose
 * response names `__typename` or `id` are taken by something else.
 */
class TaggingRewriter {
  lists = false;

  constructor(
    private readonly hints: CacheHints,
    private readonly schema: GraphQLSchema,
    private readonly service: string | undefined,
  ) {}

  document(document: DocumentNode, isEntities: boolean): DocumentNode | null {
    const definitions: DefinitionNode[] = [];
    for (const d of document.definitions) {
      if (d.kind === Kind.FRAGMENT_DEFINITION) {
        const set = this.set(d.selectionSet, d.typeCondition.name.value, 0);
        if (!set) return null;
        definitions.push({ ...d, selectionSet: set });
      } else if (d.kind === Kind.OPERATION_DEFINITION) {
        let set: SelectionSetNode | null;
        if (isEntities) {
          const entities = d.selectionSet.selections[0] as FieldNode;
          const fragments: SelectionNode[] = [];
          for (const f of entities.selectionSet?.selections ?? []) {
            if (f.kind !== Kind.INLINE_FRAGMENT || !f.typeCondition) return null;
            const inner = this.set(f.selectionSet, f.typeCondition.name.value, 0, true);
            if (!inner) return null;
            fragments.push({ ...f, selectionSet: inner });
          }
          set = { ...d.selectionSet, selections: [{ ...entities, selectionSet: { kind: Kind.SELECTION_SET, selections: fragments } }] };
        } else {
          set = this.set(d.selectionSet, this.schema.getQueryType()?.name ?? 'Query', 0, true);
        }
        if (!set) return null;
        definitions.push({ ...d, selectionSet: set });
      } else definitions.push(d);
    }
    return { ...document, definitions };
  }

  private set(set: SelectionSetNode, typeName: string, depth: number, top = false): SelectionSetNode | null {
    if (depth > 32) return null;
    const type = this.schema.getType(typeName);
    const selections: SelectionNode[] = [];
    const names = new Map<string, string>();
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        names.set(selection.alias?.value ?? selection.name.value, selection.name.value);
        const field = isObjectType(type) || isInterfaceType(type) ? type.getFields()[selection.name.value] : undefined;
        if (field && isListType(getNullableType(field.type)) && isCompositeType(getNamedType(field.type))) this.lists = true;
        if (selection.selectionSet && field) {
          const inner = this.set(selection.selectionSet, getNamedType(field.type).name, depth + 1);
          if (!inner) return null;
          selections.push({ ...selection, selectionSet: inner });
        } else selections.push(selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const inner = this.set(selection.selectionSet, selection.typeCondition?.name.value ?? typeName, depth + 1, top);
        if (!inner) return null;
        selections.push({ ...selection, selectionSet: inner });
      } else selections.push(selection);
    }
    if (top) return { ...set, selections };
    const entity = isObjectType(type) && this.hints.isIdEntity(typeName, this.service);
    for (const [name, field] of [['__typename', TYPENAME], ['id', ID]] as const) {
      if (name === 'id' && !entity) continue;
      if (name === '__typename' && !entity && !(type && isAbstractType(type))) continue;
      const taken = names.get(name);
      if (taken === undefined) selections.push(field);
      else if (taken !== name) return null;
    }
    return { ...set, selections };
  }
}

function hintOf(args: readonly ConstArgumentNode[]): CacheHint {
  const maxAge = args.find((a) => a.name.value === 'maxAge')?.value;
  const scope = args.find((a) => a.name.value === 'scope')?.value;
  return { maxAge: maxAge?.kind === Kind.INT ? Number(maxAge.value) : undefined, private: scope?.kind === Kind.ENUM && scope.value === 'PRIVATE' };
}
