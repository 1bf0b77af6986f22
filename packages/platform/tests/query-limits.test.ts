import { ApolloServer } from '@apollo/server';
import type { GraphQLFieldConfigMap } from 'graphql';
import { GraphQLID, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema } from 'graphql';
import { DEFAULT_QUERY_LIMITS, queryLimitRules, useExecutionBounds, withLimitCode } from '../src';

const Node: GraphQLObjectType = new GraphQLObjectType({
  name: 'Node',
  fields: (): GraphQLFieldConfigMap<{ id: string }, unknown> => ({
    id: { type: new GraphQLNonNull(GraphQLID) },
    children: { type: new GraphQLList(Node), resolve: (n) => Array.from({ length: 10 }, (_, i) => ({ id: `${n.id}.${i}` })) },
    slow: { type: Node, resolve: async (n) => new Promise((resolve) => setTimeout(() => resolve({ id: `${n.id}+` }), 30)) },
  }),
});
const schema = new GraphQLSchema({ query: new GraphQLObjectType({ name: 'Query', fields: { node: { type: Node, resolve: () => ({ id: 'root' }) } } }) });

/** A server over a schema whose `node.children` fans out ten-fold per level and `slow` takes 30 ms per level, with the shared limits wired as a subgraph wires them. */
function server(limits: Partial<typeof DEFAULT_QUERY_LIMITS>) {
  const all = { ...DEFAULT_QUERY_LIMITS, ...limits };
  const protection = queryLimitRules(all);
  return new ApolloServer({
    schema,
    parseOptions: { maxTokens: all.maxTokens },
    formatError: (formatted, error) => withLimitCode(formatted, error, all),
    validationRules: protection.rules,
    plugins: [...protection.plugins, useExecutionBounds(all)],
  });
}

const fanOut = (levels: number) => `{ node { ${'children { id '.repeat(levels)}id${' }'.repeat(levels)} } }`;
const slowChain = (levels: number) => `{ node { ${'slow { id '.repeat(levels)}id${' }'.repeat(levels)} } }`;

async function run(s: ApolloServer, query: string) {
  const res = await s.executeOperation({ query });
  if (res.body.kind !== 'single') throw new Error('expected a single result');
  return res.body.singleResult;
}

describe('execution bounds of one operation', () => {
  it('should stop an answer that would exceed the field bound, with one error saying so', async () => {
    const s = server({ maxResponseFields: 1_000 });
    await s.start();
    const small = await run(s, fanOut(2)); // 1 + 10 + 100 nodes
    expect(small.errors).toBeUndefined();
    const big = await run(s, fanOut(5)); // 111 111 nodes
    expect(big.errors).toHaveLength(1);
    expect(big.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'response-fields' });
    // What was built is bounded too: the answer holds about the bound, not the whole tree.
    expect(JSON.stringify(big.data ?? null).match(/"id"/g)?.length ?? 0).toBeLessThanOrEqual(1_000);
    await s.stop();
  });

  it('should stop an operation that runs past its time bound, as retryable', async () => {
    const s = server({ executionTimeoutMs: 100 });
    await s.start();
    const cut = await run(s, slowChain(10)); // 300 ms of resolvers, depth 12
    expect(cut.errors).toHaveLength(1);
    expect(cut.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true, limit: 'execution-time' });
    expect((await run(s, slowChain(1))).errors).toBeUndefined();
    await s.stop();
  });

  it('should refuse a document deeper than the shared depth limit before executing it', async () => {
    const s = server({});
    await s.start();
    const deep = await run(s, slowChain(40));
    expect(deep.errors?.map((e) => e.extensions?.['code'])).toEqual(expect.arrayContaining(['MAX_DEPTH_LIMIT']));
    expect(deep.errors?.find((e) => e.extensions?.['code'] === 'MAX_DEPTH_LIMIT')?.extensions?.['limit']).toBe(12);
    expect(deep.errors?.map((e) => e.message)).toEqual(expect.arrayContaining([expect.stringMatching(/depth limit of 12 exceeded/)]));
    expect(deep.data).toBeUndefined();
    await s.stop();
  });
});
