/**
 * The final shaping of a federated answer, compiled once per operation: the merged subgraph data
 * (the "unfiltered" tree the fetches built) walked once against the operation, with exactly
 * @apollo/gateway's semantics (its `computeResponse` in resultShaping.js, 2.14): the same key order,
 * `__typename` filling, fragment type conditions, `@skip`/`@include`, null propagation for non-null
 * fields and list elements, the same INVALID_GRAPHQL errors with the same messages and paths, and
 * the same assertion failures for answers no valid subgraph gives.
 *
 * What is done once per operation instead of per request: the walk over federation-internals'
 * selection sets (their `selections()`, `element`, `appliedDirectivesOf`, `definition.type` getters
 * were a third of the gateway's CPU in the benchmark's profile), the type of every field unwrapped
 * into a small descriptor, leaf validity as a kind, and fragment type conditions as the set of type
 * names they apply to.
 */
import type { CompositeType, NamedType, Operation, Schema, SelectionSet, Type } from '@apollo/federation-internals';
import { ERRORS, isCompositeType, isCustomScalarType, isEnumType, isListType, isNonNullType, isObjectType, isSubtype, typenameFieldName as federationTypename, Variable } from '@apollo/federation-internals';
import type { GraphQLError } from 'graphql';

const NON_NULL = 0;
const LIST = 1;
const COMPOSITE = 2;
const LEAF = 3;

/** How a leaf value is checked (federation-internals' isValidLeafValue). */
const enum Leaf {
  Custom,
  Boolean,
  Int,
  Id,
  Float,
  Enum,
  /** String, or any other built-in scalar that is neither Boolean, Int nor Float. */
  Other,
}

type TypeDesc =
  | { readonly k: typeof NON_NULL; readonly of: TypeDesc; readonly str: string }
  | { readonly k: typeof LIST; readonly of: TypeDesc; readonly str: string }
  | { readonly k: typeof COMPOSITE; readonly str: string }
  | { readonly k: typeof LEAF; readonly str: string; readonly leaf: Leaf; readonly values?: ReadonlySet<string> };

/** A `@skip`/`@include` decided by a variable (constant ones are decided at compile time). */
interface Condition {
  readonly skipVar?: string;
  readonly includeVar?: string;
}

const FIELD = 0;
const TYPENAME = 1;
const FRAGMENT = 2;

type CompiledSelection =
  | { readonly kind: typeof FIELD; readonly key: string; readonly own: boolean; readonly cond: Condition | null; readonly type: TypeDesc; readonly sub: CompiledSet | null }
  | { readonly kind: typeof TYPENAME; readonly key: string; readonly own: boolean; readonly cond: Condition | null }
  | { readonly kind: typeof FRAGMENT; readonly cond: Condition | null; readonly applies: ReadonlySet<string> | null; readonly typeCondition: string | null; readonly sub: CompiledSet };

type CompiledSet = readonly CompiledSelection[];

/** Why an operation is left to @apollo/gateway's own shaping (the executor delegates it whole). */
export class NotCompilable extends Error {}

/** Names a property lookup could find on a prototype (Object's or Array's): read as own properties only, as @apollo/gateway's getOwn does. */
const PROTOTYPE_NAMES = new Set<string>([...Object.getOwnPropertyNames(Object.prototype), ...Object.getOwnPropertyNames(Array.prototype)]);

/** `__typename`, read once: federation-internals' exports are getters, and the shaping reads it for every object. */
const typenameFieldName: string = federationTypename;

/** How federation-internals tells an integer: its decimal text (a safe integer always prints as one, so it is answered without printing). */
const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;

/** What the shaping needs to know of the schema's types by name, memoised (a schema has a few hundred). */
class TypeIndex {
  private readonly known = new Map<string, { readonly composite: boolean; readonly object: boolean }>();
  private readonly applies = new Map<string, ReadonlySet<string>>();

  constructor(readonly schema: Schema) {}

  /** `schema.type(name)`: undefined when the schema has no such type. */
  info(name: string): { readonly composite: boolean; readonly object: boolean } | undefined {
    let info = this.known.get(name);
    if (!info) {
      const type = this.schema.type(name);
      if (!type) return undefined;
      info = { composite: isCompositeType(type), object: isObjectType(type) };
      this.known.set(name, info);
    }
    return info;
  }

  /** The names of every type `condition` applies to (federation-internals' isSubtype(condition, type)). */
  appliesTo(condition: CompositeType): ReadonlySet<string> {
    let names = this.applies.get(condition.name);
    if (!names) {
      const set = new Set<string>();
      for (const type of this.schema.allTypes()) if (isSubtype(condition, type)) set.add(type.name);
      names = set;
      this.applies.set(condition.name, names);
    }
    return names;
  }
}

const indexes = new WeakMap<Schema, TypeIndex>();
function typeIndex(schema: Schema): TypeIndex {
  let index = indexes.get(schema);
  if (!index) {
    index = new TypeIndex(schema);
    indexes.set(schema, index);
  }
  return index;
}

/** One operation's shaping program (see the module comment). */
export class ResultShaper {
  private readonly root: CompiledSet;
  private readonly rootType: string;
  private readonly index: TypeIndex;
  /** Variables of `@skip`/`@include` conditions: checked to be booleans before anything is fetched. */
  readonly conditionVariables: readonly string[];
  private readonly defaulted: Readonly<Record<string, unknown>>;

  constructor(operation: Operation) {
    const schema = operation.schema();
    this.index = typeIndex(schema);
    const vars = new Set<string>();
    this.root = compileSet(operation.selectionSet, schema, this.index, vars);
    this.rootType = schema.schemaDefinition.rootType(operation.rootKind)!.name;
    this.conditionVariables = [...vars];
    this.defaulted = operation.collectDefaultedVariableValues();
  }

  /** The variables the conditions read (defaults, then the request's), as @apollo/gateway computes them; undefined when a condition's value is not a boolean. */
  conditionValues(variables: Readonly<Record<string, unknown>> | undefined): Readonly<Record<string, unknown>> | undefined {
    if (this.conditionVariables.length === 0) return {};
    const values: Record<string, unknown> = { __proto__: null, ...this.defaulted, ...variables } as Record<string, unknown>;
    for (const name of this.conditionVariables) if (typeof values[name] !== 'boolean') return undefined;
    return values;
  }

  /** Shapes `input` (the merged subgraph data): the response's data and the errors of value completion. */
  shape(input: Record<string, unknown>, conditionValues: Readonly<Record<string, unknown>>): { data: Record<string, unknown> | null; errors: GraphQLError[] } {
    const run = new ShapingRun(this.index, conditionValues);
    const data: Record<string, unknown> = {};
    const bubbled = run.applySet(input, this.root, data, this.rootType);
    return { data: bubbled ? null : data, errors: run.errors };
  }
}

function compileSet(set: SelectionSet, schema: Schema, index: TypeIndex, vars: Set<string>): CompiledSet {
  const out: CompiledSelection[] = [];
  for (const selection of set.selections()) {
    const element = selection.element;
    const cond = condition(element, schema, vars);
    if (cond === 'skip') continue;
    if (selection.kind === 'FieldSelection') {
      const field = selection.element;
      const key = field.responseName();
      if (key === '__proto__') throw new NotCompilable('a response name __proto__');
      if (field.definition.isSchemaIntrospectionField()) throw new NotCompilable('introspection');
      const own = PROTOTYPE_NAMES.has(key);
      if (field.name === typenameFieldName) {
        out.push({ kind: TYPENAME, key, own, cond });
        continue;
      }
      out.push({ kind: FIELD, key, own, cond, type: describe(field.definition.type!, schema), sub: selection.selectionSet ? compileSet(selection.selectionSet, schema, index, vars) : null });
    } else {
      const fragment = selection.element;
      const typeCondition = fragment.typeCondition;
      out.push({ kind: FRAGMENT, cond, applies: typeCondition ? index.appliesTo(typeCondition) : null, typeCondition: typeCondition?.name ?? null, sub: compileSet(selection.selectionSet, schema, index, vars) });
    }
  }
  return out;
}

/** A selection's `@skip`/`@include`, as @apollo/gateway's shouldSkip reads them (the first of each). */
function condition(element: { appliedDirectivesOf(d: unknown): ReadonlyArray<{ arguments(): Record<string, unknown> }> }, schema: Schema, vars: Set<string>): Condition | null | 'skip' {
  const skip = element.appliedDirectivesOf(schema.skipDirective())[0]?.arguments()['if'];
  const include = element.appliedDirectivesOf(schema.includeDirective())[0]?.arguments()['if'];
  let skipVar: string | undefined;
  let includeVar: string | undefined;
  if (skip instanceof Variable) skipVar = skip.name;
  else if (skip) return 'skip';
  if (include instanceof Variable) includeVar = include.name;
  else if (include !== undefined && !include) return 'skip';
  if (skipVar === undefined && includeVar === undefined) return null;
  if (skipVar !== undefined) vars.add(skipVar);
  if (includeVar !== undefined) vars.add(includeVar);
  return { ...(skipVar !== undefined ? { skipVar } : {}), ...(includeVar !== undefined ? { includeVar } : {}) };
}

function describe(type: Type, schema: Schema): TypeDesc {
  const str = String(type);
  if (isNonNullType(type)) return { k: NON_NULL, of: describe(type.ofType, schema), str };
  if (isListType(type)) return { k: LIST, of: describe(type.ofType, schema), str };
  if (isCompositeType(type)) return { k: COMPOSITE, str };
  const named = type as NamedType;
  if (isCustomScalarType(named)) return { k: LEAF, str, leaf: Leaf.Custom };
  if (isEnumType(named)) return { k: LEAF, str, leaf: Leaf.Enum, values: new Set(named.values.map((v) => v.name)) };
  if (named === schema.booleanType()) return { k: LEAF, str, leaf: Leaf.Boolean };
  if (named === schema.intType()) return { k: LEAF, str, leaf: Leaf.Int };
  if (named === schema.idType()) return { k: LEAF, str, leaf: Leaf.Id };
  if (named === schema.floatType()) return { k: LEAF, str, leaf: Leaf.Float };
  return { k: LEAF, str, leaf: Leaf.Other };
}

function validLeaf(t: TypeDesc & { k: typeof LEAF }, value: unknown): boolean {
  if (t.leaf === Leaf.Custom) return true;
  if (typeof value === 'boolean') return t.leaf === Leaf.Boolean;
  if (typeof value === 'number' && Number.isFinite(value)) return t.leaf === Leaf.Int || t.leaf === Leaf.Id ? Number.isSafeInteger(value) || INTEGER.test(String(value)) : t.leaf === Leaf.Float;
  if (typeof value === 'string') return t.leaf === Leaf.Enum ? t.values!.has(value) : t.leaf !== Leaf.Boolean && t.leaf !== Leaf.Int && t.leaf !== Leaf.Float;
  return false;
}

function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

/** One request's shaping: the current path and the errors, plus the two flags of the last value completed. */
class ShapingRun {
  readonly errors: GraphQLError[] = [];
  private readonly path: Array<string | number> = [];
  /** The last completed value must null its parent (a non-null field or element came back null). */
  private invalid = false;
  /** An error was recorded below the last completed value. */
  private hasErrors = false;

  constructor(
    private readonly index: TypeIndex,
    private readonly variables: Readonly<Record<string, unknown>>,
  ) {}

  private skipped(cond: Condition): boolean {
    return (cond.skipVar !== undefined && this.variables[cond.skipVar] === true) || (cond.includeVar !== undefined && this.variables[cond.includeVar] !== true);
  }

  /** True when a null must bubble up to the parent (@apollo/gateway's NULL_BUBBLE_UP). */
  applySet(input: Record<string, unknown>, set: CompiledSet, output: Record<string, unknown>, parentType: string): boolean {
    for (let i = 0; i < set.length; i++) {
      const sel = set[i]!;
      if (sel.cond !== null && this.skipped(sel.cond)) continue;
      if (sel.kind === FRAGMENT) {
        const typename = input[typenameFieldName];
        if (typename && typeof typename !== 'string') throw new Error(`Got unexpected value for __typename: ${String(typename)}`);
        if (sel.applies === null || sel.applies.has((typename as string) || parentType)) {
          if (this.applySet(input, sel.sub, output, sel.typeCondition ?? parentType)) return true;
        }
        continue;
      }
      const key = sel.key;
      const outputValue = sel.own ? own(output, key) : output[key];
      let inputValue = (sel.own ? own(input, key) : input[key]) ?? null;
      if (sel.kind === TYPENAME) {
        if (outputValue === undefined) {
          if (inputValue === null && key !== typenameFieldName) inputValue = input[typenameFieldName] ?? null;
          const name = typeof inputValue === 'string' && this.index.info(inputValue) ? inputValue : parentType;
          if (!this.index.info(name)?.object) return true;
          output[key] = name;
        }
        continue;
      }
      this.path.push(key);
      output[key] = this.update(outputValue, sel.type, inputValue, sel.sub, parentType);
      this.path.pop();
      if (this.invalid) return true;
    }
    return false;
  }

  private done(value: unknown, invalid: boolean, hasErrors: boolean): unknown {
    this.invalid = invalid;
    this.hasErrors = hasErrors;
    return value;
  }

  private describeLast(current: TypeDesc, parentType: string): string {
    const element = this.path[this.path.length - 1];
    if (element === undefined) throw new Error('Should not have been called on an empty path');
    return typeof element === 'string' ? `field ${parentType}.${element}` : `array element of type ${current.str} at index ${element}`;
  }

  private invalidGraphql(message: string): void {
    this.errors.push(ERRORS.INVALID_GRAPHQL.err(message, { path: Array.from(this.path) }));
  }

  /** @apollo/gateway's updateOutputValue; the result's isInvalid and hasErrors are left in the run's flags. */
  private update(outputValue: unknown, type: TypeDesc, inputValue: unknown, sub: CompiledSet | null, parentType: string): unknown {
    if (outputValue === null || (outputValue !== undefined && sub === null)) return this.done(outputValue, false, false);
    if (type.k === NON_NULL) {
      const updated = this.update(outputValue, type.of, inputValue, sub, parentType);
      if (updated === null) {
        if (!this.hasErrors) this.invalidGraphql(`Cannot return null for non-nullable ${this.describeLast(type.of, parentType)}.`);
        return this.done(null, true, true);
      }
      return this.done(updated, false, false);
    }
    if (inputValue === null) return this.done(null, false, false);
    if (type.k === LIST) {
      if (!Array.isArray(inputValue)) throw new Error(`Invalid non-list value ${String(inputValue)} returned by subgraph for list type ${type.str}`);
      if (outputValue !== undefined && !Array.isArray(outputValue)) throw new Error(`Invalid non-list value ${String(outputValue)} returned by subgraph for list type ${type.str}`);
      const outputList = outputValue as unknown[] | undefined;
      const length = inputValue.length;
      if (outputList && outputList.length !== length) throw new Error(`[${String(inputValue)}].length (${length}) !== [${String(outputList)}].length (${outputList.length})`);
      const updated = new Array<unknown>(length);
      let nullify = false;
      let hasErrors = false;
      for (let i = 0; i < length; i++) {
        this.path.push(i);
        updated[i] = this.update(outputList ? outputList[i] : undefined, type.of, inputValue[i], sub, parentType);
        this.path.pop();
        if (this.invalid) nullify = true;
        if (this.hasErrors) hasErrors = true;
      }
      return this.done(nullify ? null : updated, false, hasErrors);
    }
    if (type.k === COMPOSITE) {
      if (sub === null) throw new Error(`Invalid empty selection set for composite type ${type.str}`);
      if (typeof inputValue !== 'object') throw new Error(`Invalid non-object value ${String(inputValue)} returned by subgraph for composite type ${type.str}`);
      if (outputValue !== undefined && typeof outputValue !== 'object') throw new Error(`Invalid non-object value ${String(inputValue)} returned by subgraph for composite type ${type.str}`);
      const input = inputValue as Record<string, unknown>;
      const typename = input[typenameFieldName];
      if (typename !== undefined && typeof typename !== 'string') throw new Error(`Invalid non-string value ${String(typename)} for __typename at ${String(this.path)}`);
      let objType = type.str;
      if (typename) {
        if (!this.index.info(typename)?.composite) {
          this.invalidGraphql(`Invalid __typename found for object at ${this.describeLast(type, parentType)}.`);
          return this.done(null, false, true);
        }
        objType = typename;
      }
      const output = outputValue === undefined ? {} : (outputValue as Record<string, unknown>);
      const bubbled = this.applySet(input, sub, output, objType);
      return this.done(bubbled ? null : output, false, bubbled);
    }
    if (outputValue !== undefined) throw new Error(`Excepted output to be undefined but got ${type.str} for type ${type.str}`);
    const valid = validLeaf(type, inputValue);
    if (!valid) this.invalidGraphql(`Invalid value found for ${this.describeLast(type, parentType)}.`);
    return this.done(valid ? inputValue : null, false, !valid);
  }
}
