/**
 * Static stub subgraphs for the gateway benchmark: each one serves a subgraph's own SDL (the file
 * schema/supergraph.config.json names, the same typeDefs the service runs) through
 * `buildSubgraphSchema`, with answers generated deterministically from the query alone, `_entities`
 * included. No database, no resolvers of ours: what a gateway is measured against is only its own
 * work (parsing, planning, fetching, result shaping).
 *
 * Values derive from a seed: an entity's seed is `<Type>:<id>`, so the same product or user answers
 * the same fields whichever subgraph request or gateway asks for it; a value object's seed is its
 * parent's seed and the field name. Lists are as long as their `first` argument (a connection's
 * `edges` inherit it), 2 otherwise. Users come from a pool of USER_POOL ids so that review authors
 * repeat, as they do in a shop.
 *
 * Each answer is computed once per distinct request body and kept (the gateways send the same few
 * bodies over and over), so a stub costs an HTTP exchange and a map lookup per request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLFieldResolver, GraphQLNamedType, GraphQLSchema } from 'graphql';
import { execute, getNamedType, getNullableType, isEnumType, isListType, isObjectType, parse, validate } from 'graphql';

/** How many distinct users the stubs know: review authors repeat, as in a real shop. */
export const USER_POOL = 40;
/** Length of a list without a `first` argument. */
const DEFAULT_LIST_LENGTH = 2;
/** Answers kept per stub (distinct request bodies); the map is cleared when full. */
const MAX_ANSWERS = 10_000;
/** Upper bound of a request body (the benchmark's largest is a few KiB). */
const MAX_BODY_BYTES = 1024 * 1024;

interface Seeded {
  readonly __seed: string;
  readonly __first?: number;
  readonly [field: string]: unknown;
}

/** 32-bit FNV-1a: a cheap, stable hash of a seed. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function scalarValue(typeName: string, fieldName: string, seed: string): unknown {
  const h = hash(seed);
  switch (typeName) {
    case 'ID':
      return `${fieldName}-${h.toString(36)}`;
    case 'Int':
      return h % 1000;
    case 'Float':
      return (h % 500) / 100;
    case 'Boolean':
      return h % 2 === 0;
    case 'Decimal':
      return `${h % 1000}.${String(h % 100).padStart(2, '0')}`;
    case 'DateTime':
      return new Date(Date.UTC(2026, 0, 1) + (h % 31_536_000) * 1000).toISOString();
    default:
      return `${fieldName} ${h.toString(36)}`;
  }
}

function objectValue(type: GraphQLNamedType, seed: string, first: number | undefined): Seeded {
  if (isObjectType(type) && type.getFields()['id']) {
    const h = hash(seed);
    const id = type.name === 'User' ? `u${h % USER_POOL}` : `${type.name.slice(0, 1).toLowerCase()}${h % 1_000_000}`;
    return { __seed: `${type.name}:${id}`, id, ...(first === undefined ? {} : { __first: first }) };
  }
  return { __seed: seed, ...(first === undefined ? {} : { __first: first }) };
}

/** The default resolver of every field: the representation's own keys, else a value from the seed. */
const generatedField: GraphQLFieldResolver<Seeded | undefined, unknown, Record<string, unknown>> = (source, args, _context, info) => {
  const field = info.fieldName;
  if (source && Object.hasOwn(source, field)) return source[field];
  const parentSeed = source?.__seed ?? (source && typeof source['id'] === 'string' ? `${info.parentType.name}:${source['id']}` : info.parentType.name);
  const seed = `${parentSeed}.${field}`;
  const named = getNamedType(info.returnType);
  const requested = typeof args['first'] === 'number' ? Math.min(args['first'], 100) : undefined;
  const one = (s: string): unknown => {
    if (isObjectType(named)) return objectValue(named, s, requested);
    if (isEnumType(named)) {
      const values = named.getValues();
      return values[hash(s) % values.length]!.value;
    }
    return scalarValue(named.name, field, s);
  };
  if (isListType(getNullableType(info.returnType))) {
    const length = requested ?? source?.__first ?? DEFAULT_LIST_LENGTH;
    return Array.from({ length }, (_, i) => one(`${seed}[${i}]`));
  }
  return one(seed);
};

/** A stub of one subgraph: answers a request body (JSON text) with the response body (JSON text). */
export function stubSubgraph(sdl: string): (body: string) => Promise<string> | string {
  const schema: GraphQLSchema = buildSubgraphSchema({ typeDefs: parse(sdl) });
  const answers = new Map<string, Promise<string> | string>();
  return (body) => {
    const known = answers.get(body);
    if (known !== undefined) return known;
    const answer = answerOnce(schema, body).then((result) => {
      const text = JSON.stringify(result);
      answers.set(body, text);
      return text;
    });
    if (answers.size >= MAX_ANSWERS) answers.clear();
    answers.set(body, answer);
    return answer;
  };
}

async function answerOnce(schema: GraphQLSchema, body: string): Promise<unknown> {
  let request: { query?: unknown; variables?: unknown; operationName?: unknown };
  try {
    request = JSON.parse(body) as typeof request;
  } catch {
    return { errors: [{ message: 'The body is not JSON.' }] };
  }
  if (typeof request.query !== 'string') return { errors: [{ message: 'No query.' }] };
  const document = parse(request.query);
  const errors = validate(schema, document);
  if (errors.length) return { errors: errors.map((e) => ({ message: e.message })) };
  // @apollo/subgraph's _entities answers a promise per representation, so execute may answer a promise.
  return await execute({
    schema,
    document,
    variableValues: (request.variables ?? undefined) as Record<string, unknown> | undefined,
    operationName: typeof request.operationName === 'string' ? request.operationName : undefined,
    fieldResolver: generatedField as GraphQLFieldResolver<unknown, unknown>,
  });
}

export interface RunningStubs {
  /** GraphQL URL of each subgraph, by name. */
  readonly urls: Readonly<Record<string, string>>;
  /** Requests answered so far, by subgraph. */
  counts(): Record<string, number>;
  stop(): Promise<void>;
}

/** Starts one HTTP server per subgraph on `host` (ports from `ports`, in order, or free ones). */
export async function startStubs(subgraphs: ReadonlyArray<{ name: string; sdl: string }>, options: { host?: string; ports?: readonly number[] } = {}): Promise<RunningStubs> {
  const host = options.host ?? '127.0.0.1';
  const counts: Record<string, number> = {};
  const servers: http.Server[] = [];
  const urls: Record<string, string> = {};
  for (const [i, { name, sdl }] of subgraphs.entries()) {
    const answer = stubSubgraph(sdl);
    counts[name] = 0;
    const server = http.createServer((req, res) => {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) req.destroy();
        else chunks.push(chunk);
      });
      req.on('end', () => {
        counts[name]! += 1;
        const send = (text: string): void => void res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
        const text = answer(Buffer.concat(chunks).toString('utf8'));
        if (typeof text === 'string') send(text);
        else text.then(send, (error: unknown) => send(JSON.stringify({ errors: [{ message: String(error) }] })));
      });
    });
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.ports?.[i] ?? 0, host, () => resolve());
    });
    servers.push(server);
    urls[name] = `http://${host}:${(server.address() as AddressInfo).port}/graphql`;
  }
  return {
    urls,
    counts: () => ({ ...counts }),
    stop: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
}
