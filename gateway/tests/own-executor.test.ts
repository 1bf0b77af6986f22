/**
 * The own executor (GATEWAY_EXECUTOR=own) answers exactly what @apollo/gateway's answers: a corpus
 * of operations sent to two gateways over the same real subgraphs (the platform's service runtime
 * over HTTP, each with its own database), one per executor, the HTTP status and the body bytes
 * compared. The graph is built for the cases the shop's own schema lacks: an interface, a union,
 * entities in lists of both, nullable and non-null fields that fail in the subgraph (at the root
 * and inside `_entities`), a subgraph error with a code, an enum, a subgraph that is down, plus
 * aliases, named and inline fragments, @skip/@include with variables and defaults, __typename,
 * variable errors and introspection.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { composeServices } from '@apollo/composition';
import { GraphQLError, parse } from 'graphql';
import type { RunningService } from '@shop/platform';
import { createLogger, defineService, forbidden, InProcessBus, NO_SETTINGS, startService } from '@shop/platform';
import { createTestDatabase } from '@shop/platform/testing';
import type { TestDatabase } from '@shop/platform/testing';
import { Pool } from 'pg';
import type { RunningGateway } from '../src/gateway';
import { jwtVerifier, SessionRevocations, startGateway } from '../src';

const SHELF_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
interface Item { id: ID! title: String }
type Book implements Item @key(fields: "id") { id: ID! title: String pages: Int! }
type Film implements Item @key(fields: "id") { id: ID! title: String minutes: Int }
union Media = Book | Film
type Query {
  items: [Item!]!
  media: [Media]!
  book(id: ID!): Book
  books(ids: [ID!]!): [Book]
  "Non-null, and its resolver returns null: the subgraph's error, null up to data."
  broken: Book!
  "Throws FORBIDDEN."
  failing: String
  "A book whose pages (Int!) the resolver leaves null."
  badBook: Book
}
`;

const EXTRAS_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
enum Kind { SHORT LONG }
type Book @key(fields: "id") { id: ID! rating: Float kind: Kind! "FORBIDDEN for book 2." secret: String tags: [String!]! }
type Film @key(fields: "id") { id: ID! rating: Float }
`;

const DOWN_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
type Film @key(fields: "id") { id: ID! awards: [String!]! }
`;

interface Row {
  readonly __typename: 'Book' | 'Film';
  readonly id: string;
  readonly title: string | null;
  readonly pages?: number | null;
  readonly minutes?: number | null;
}
const ROWS: Row[] = [
  { __typename: 'Book', id: '1', title: 'One', pages: 100 },
  { __typename: 'Film', id: '10', title: 'Ten', minutes: 90 },
  { __typename: 'Book', id: '2', title: null, pages: 200 },
  { __typename: 'Film', id: '11', title: 'Eleven', minutes: null },
  { __typename: 'Book', id: '3', title: 'Three', pages: 300 },
];
const byId = (id: string) => ROWS.find((r) => r.id === id) ?? null;

function service(name: string, sdl: string, resolvers: Record<string, unknown>) {
  return defineService({ name, defaultPort: 0, typeDefs: parse(sdl), resolvers: resolvers as never, entities: [], migrations: [], settings: NO_SETTINGS, setup: () => undefined, context: (base) => base });
}

const shelf = service('shelf', SHELF_SDL, {
  Item: { __resolveType: (r: Row) => r.__typename },
  Media: { __resolveType: (r: Row) => r.__typename },
  Book: { __resolveReference: (ref: { id: string }) => byId(ref.id) },
  Film: { __resolveReference: (ref: { id: string }) => byId(ref.id) },
  Query: {
    items: () => ROWS,
    media: () => [ROWS[0], null, ROWS[1], ROWS[3]],
    book: (_: unknown, { id }: { id: string }) => byId(id),
    books: (_: unknown, { ids }: { ids: string[] }) => ids.map(byId),
    broken: () => null,
    failing: () => {
      throw forbidden('Not for you.');
    },
    badBook: () => ({ __typename: 'Book', id: '9', title: 'Bad', pages: null }),
  },
});

const extras = service('extras', EXTRAS_SDL, {
  Book: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    rating: (b: { id: string }) => Number(b.id) / 2,
    // Book 3 has no kind: a non-null field null inside _entities.
    kind: (b: { id: string }) => (b.id === '3' ? null : b.id === '1' ? 'SHORT' : 'LONG'),
    secret: (b: { id: string }) => {
      if (b.id === '2') throw forbidden('Secret of book 2.');
      return `secret ${b.id}`;
    },
    tags: (b: { id: string }) => [`t${b.id}`, 'all'],
  },
  Film: { __resolveReference: (ref: { id: string }) => ({ id: ref.id }), rating: () => 4.5 },
});

/** The corpus: [name, query, variables?]. */
const CORPUS: Array<[string, string, Record<string, unknown>?]> = [
  ['an interface list with inline fragments and entities from another subgraph', '{ items { __typename id title ... on Book { pages rating kind } ... on Film { minutes rating } } }'],
  ['the interface list with a non-null entity field null for one element (bubbles to data)', '{ items { id ... on Book { kind } } }'],
  ['a union with null elements', '{ media { __typename ... on Book { id title rating } ... on Film { id minutes } } }'],
  ['aliases everywhere', '{ a: items { i: id t: title } b: book(id: "1") { x: id p: pages r: rating k: kind } c: book(id: "10") { id } }'],
  ['the same field twice under different aliases with different sub-selections', '{ one: book(id: "1") { id title } two: book(id: "1") { id tags rating } }'],
  ['a field selected twice (merged)', '{ book(id: "1") { id title } book(id: "1") { rating title } }'],
  ['named fragments, nested and on the interface', 'query Shelf { items { ...ItemBits } } fragment ItemBits on Item { id ...BookBits ... on Film { minutes } } fragment BookBits on Book { pages kind tags }'],
  ['@include and @skip with variables', 'query Q($yes: Boolean!, $no: Boolean! = false) { items { id title @include(if: $yes) ... on Book @skip(if: $no) { pages rating } } }', { yes: true }],
  ['@include and @skip the other way', 'query Q($yes: Boolean!, $no: Boolean! = false) { items { id title @include(if: $yes) ... on Book @skip(if: $no) { pages rating } } }', { yes: false, no: true }],
  ['constant @skip and @include', '{ book(id: "1") { id title @skip(if: true) pages @include(if: false) rating @include(if: true) } }'],
  ['a fetch behind a condition (Condition node)', 'query C($r: Boolean!) { book(id: "1") { id rating @include(if: $r) } }', { r: true }],
  ['a fetch behind a condition, not taken', 'query C($r: Boolean!) { book(id: "1") { id rating @include(if: $r) } }', { r: false }],
  ['__typename, aliased and plain', '{ book(id: "1") { t: __typename __typename id } media { t: __typename } }'],
  ['only __typename at the root', '{ __typename }'],
  ['a list argument with null elements (unknown ids)', '{ books(ids: ["1", "404", "3"]) { id title rating secret } }'],
  ['a subgraph error with a code at the root', '{ failing book(id: "1") { id } }'],
  ['a non-null root field null (data null)', '{ broken { id } }'],
  ['a subgraph error inside _entities (nullable field)', '{ books(ids: ["1", "2"]) { id secret } }'],
  ['a non-null field null inside _entities under a nullable parent', '{ book(id: "3") { id kind rating } }'],
  ['a non-null field null in the owning subgraph', '{ badBook { id pages } }'],
  ['a subgraph that is down', '{ items { id ... on Film { awards minutes } } }'],
  ['a variable of the wrong type', 'query V($id: ID!) { book(id: $id) { id } }', { id: { not: 'an id' } }],
  ['a missing variable', 'query V($id: ID!) { book(id: $id) { id } }'],
  ['an enum and a float', '{ books(ids: ["1", "2"]) { kind rating } }'],
  ['introspection (handed to @apollo/gateway)', '{ __schema { queryType { name } } }'],
  ['introspection mixed with data', '{ __type(name: "Book") { name fields { name } } book(id: "1") { id } }'],
  ['an operation name among several', 'query A { book(id: "1") { id } } query B { items { id } }'],
];

describe('the own executor, compared with @apollo/gateway over the same subgraphs', () => {
  const dbs: TestDatabase[] = [];
  const services: Array<RunningService<unknown>> = [];
  let pool: Pool;
  let bus: InProcessBus;
  let apollo: RunningGateway;
  let own: RunningGateway;

  beforeAll(async () => {
    const db = async (name: string) => {
      const d = await createTestDatabase(name);
      dbs.push(d);
      return d.url;
    };
    pool = new Pool({ connectionString: await db('exec_bus'), max: 5 });
    bus = new InProcessBus({ pool, pollIntervalMs: 100 });
    const internalAuthSecret = randomUUID() + randomUUID();
    const logger = (name: string) => createLogger(name, process.env['LOG_LEVEL'] ?? 'silent');
    const settings = async (name: string) => ({ port: 0, databaseUrl: await db(`exec_${name}`), bus, internalAuthSecret, nodeEnv: 'test' as const, logger: logger(name), drainTimeoutMs: 1_000 });
    const shelfService = await startService(shelf, await settings('shelf'));
    const extrasService = await startService(extras, await settings('extras'));
    services.push(shelfService as RunningService<unknown>, extrasService as RunningService<unknown>);
    // Nothing listens there: the subgraph is down.
    const downUrl = 'http://127.0.0.1:9/graphql';
    const composed = composeServices([
      { name: 'shelf', url: shelfService.url, typeDefs: parse(SHELF_SDL) },
      { name: 'extras', url: extrasService.url, typeDefs: parse(EXTRAS_SDL) },
      { name: 'down', url: downUrl, typeDefs: parse(DOWN_SDL) },
    ]);
    if (composed.errors) throw new Error(composed.errors.map((e: GraphQLError) => e.message).join('\n'));
    const supergraphFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'exec-')), 'supergraph.graphql');
    writeFileSync(supergraphFile, composed.supergraphSdl);
    const gatewayWith = (executor: 'apollo' | 'own') =>
      startGateway({
        port: 0,
        supergraphFile,
        subgraphUrls: { shelf: shelfService.url, extras: extrasService.url, down: downUrl },
        internalAuthSecret,
        verifier: jwtVerifier(randomUUID() + randomUUID(), new SessionRevocations()),
        nodeEnv: 'test',
        logger: logger('gateway'),
        drainTimeoutMs: 1_000,
        subgraphTimeoutMs: 5_000,
        executor,
      });
    apollo = await gatewayWith('apollo');
    own = await gatewayWith('own');
  });

  afterAll(async () => {
    await own?.stop();
    await apollo?.stop();
    for (const s of services.reverse()) await s.stop();
    await bus?.close();
    await pool?.end();
    for (const d of dbs) await d.drop();
  });

  const post = async (url: string, query: string, variables?: Record<string, unknown>, operationName?: string) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables, operationName }) });
    return { status: res.status, body: await res.text() };
  };

  // Rows as objects: a row array shorter than the callback's parameters would make jest pass `done`.
  it.each(CORPUS.map(([name, query, variables]) => ({ name, query, variables })))('should answer $name with the same status and body bytes', async ({ query, variables }) => {
    const operationName = query.startsWith('query A') ? 'B' : undefined;
    // Twice each: the first plans the operation (a plan-cache miss), the second runs the cached plan.
    for (let round = 0; round < 2; round++) {
      const expected = await post(apollo.url, query, variables, operationName);
      const actual = await post(own.url, query, variables, operationName);
      expect(actual).toEqual(expected);
      // Not vacuous: every answer is a GraphQL body with data or errors.
      expect(Object.keys(JSON.parse(actual.body) as object).some((k) => k === 'data' || k === 'errors')).toBe(true);
    }
  });

  it("should answer data and an entity error together, the error's path as @apollo/gateway writes it", async () => {
    const res = await post(own.url, '{ items { id ... on Book { secret } } }');
    const body = JSON.parse(res.body) as { data: { items: Array<{ id: string; secret?: string | null }> }; errors: Array<{ path: unknown[]; extensions: Record<string, unknown> }> };
    expect(body.data.items.find((i) => i.id === '2')).toEqual({ id: '2', secret: null });
    // @apollo/gateway's path for an entity error: the representation's index (book 2 is the second
    // book) taken among every element of the list (the films included), so ['items', 1, ...]. Kept
    // as it is: the own executor answers what @apollo/gateway answers.
    expect(body.errors).toEqual([{ message: 'Secret of book 2.', path: ['items', 1, 'secret'], extensions: { code: 'FORBIDDEN', serviceName: 'extras' } }]);
    expect(res).toEqual(await post(apollo.url, '{ items { id ... on Book { secret } } }'));
  });
});
