import { readFileSync } from 'node:fs';
import { findBreakingChanges } from 'graphql';
import { compose, contractSchema, SUPERGRAPH_FILE } from '../composition';

describe('schema composition', () => {
  const composed = compose();

  it('should match the committed supergraph (run `npm run compose` after changing a subgraph schema)', () => {
    expect(readFileSync(SUPERGRAPH_FILE, 'utf8')).toBe(composed.supergraphSdl);
  });

  it('should contain the whole public contract with no breaking change', () => {
    // Additions are allowed; anything the contract has that was removed, renamed or narrowed is not.
    const changes = findBreakingChanges(contractSchema(), composed.apiSchema);
    expect(changes.map((c) => `${c.type}: ${c.description}`)).toEqual([]);
  });
});
