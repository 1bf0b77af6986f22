// Planning subscriptions with @apollo/gateway's own planner, on the shop's committed supergraph.
// Also pins the private fields of ApolloGateway that federated-plan.ts reads: an upgrade of
// @apollo/gateway that moves them fails here first.
import { readFileSync } from 'node:fs';
import { ApolloGateway } from '@apollo/gateway';
import { parse } from 'graphql';
import { SUPERGRAPH_FILE } from '../src/gateway';
import { gatewayInternals, planSubscription, primaryVariables } from '../src/subscriptions/federated-plan';

describe('planning a federated subscription', () => {
  let gateway: ApolloGateway;
  beforeAll(async () => {
    gateway = new ApolloGateway({ supergraphSdl: readFileSync(SUPERGRAPH_FILE, 'utf8') });
    await gateway.load();
  });
  afterAll(async () => {
    await gateway.stop();
  });

  it('should read the loaded planner, schemas and data sources of the gateway', () => {
    const internals = gatewayInternals(gateway);
    expect(internals.schema.getSubscriptionType()?.name).toBe('Subscription');
    expect(typeof internals.queryPlanner.buildQueryPlan).toBe('function');
    expect(internals.supergraphSchema.getType('join__Graph')).toBeDefined();
    expect(Object.keys(internals.serviceMap).sort()).toEqual(['catalog', 'inventory', 'orders', 'users']);
    expect(typeof internals.serviceMap['inventory']!.dataSource.process).toBe('function');
  });

  it('should plan the root field on its owning subgraph and the other fields as entity fetches', () => {
    const query = 'subscription Mine($ids: [ID!]!, $unused: Int) { stockChanged(productIds: $ids) { available product { name } } }';
    const plan = planSubscription(gateway, parse(query), 'Mine', query);
    expect(plan.subgraph).toBe('inventory');
    expect(plan.rootField).toBe('stockChanged');
    expect(plan.primary.operation).toContain('Mine__inventory__0');
    // The client's operation name is not sent upstream, so differently named operations share.
    expect(plan.upstreamQuery).not.toContain('Mine');
    expect(plan.upstreamQuery).toContain('stockChanged(productIds: $ids)');
    expect(JSON.stringify(plan.rest)).toContain('"serviceName":"catalog"');
    expect(primaryVariables(plan, { ids: ['a'], unused: 3 })).toEqual({ ids: ['a'] });
    expect(planSubscription(gateway, parse(query), 'Mine', query)).toBe(plan); // cached
  });

  it('should plan a subscription owned entirely by one subgraph without a rest', () => {
    const query = 'subscription { lowStockAlert { productId available } }';
    const plan = planSubscription(gateway, parse(query), undefined, query);
    expect(plan.subgraph).toBe('inventory');
    expect(plan.rest).toBeUndefined();
    expect(plan.eventPlan.node).toBe(plan.primary);
  });
});
