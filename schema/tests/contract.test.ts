import { readFileSync } from 'node:fs';
import { findBreakingChanges } from 'graphql';
import { CONTRACT_FILE, SHARED_CONTRACT_FILE, contractSchema, sharedContractSchema } from '../composition';

describe("the repository's copy of the public contract", () => {
  it('should be a complete schema of its own, with queries, mutations and subscriptions', () => {
    // The composition test compares the supergraph with this copy: it must stand alone (no
    // reference to a file outside the repository) and describe every kind of operation.
    expect(readFileSync(CONTRACT_FILE, 'utf8')).not.toMatch(/^\s*(#import|extend schema @link)/m);
    const schema = contractSchema();
    expect([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].map((t) => t?.name)).toEqual(['Query', 'Mutation', 'Subscription']);
  });

  // Only where a checkout of the shared contract sits beside this repository (`../shared`, as on the
  // team's machines): a clone of this repository alone has no second copy to compare with.
  const shared = sharedContractSchema();
  if (shared) {
    it(`should have no breaking change from the shared contract (${SHARED_CONTRACT_FILE})`, () => {
      // Additions are allowed in the repository's copy; nothing the shared one has may be removed,
      // renamed or narrowed.
      const changes = findBreakingChanges(shared, contractSchema());
      expect(changes.map((c) => `${c.type}: ${c.description}`)).toEqual([]);
    });
  }
});
