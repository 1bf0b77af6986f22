/**
 * What a catalog discovery event outdates in the gateway's cache: every product whose
 * bought-together partners a confirmed order moved, and not catalog's lists (every confirmed
 * order would empty them); an event that does not say which products outdates everything.
 */
import { ProductDiscoveryChanged } from '@shop/events';
import { tagsOf } from '../src/cache/cache-invalidations';
import { ALL_TAG } from '../src/cache/cache-store';
import { entityTag } from '../src/cache/entity-cache';

describe('tagsOf catalog.product-discovery-changed.v1', () => {
  it('should outdate each product the order counted, not catalog\'s lists', () => {
    const tags = tagsOf(ProductDiscoveryChanged.type, { productIds: ['p-1', 'p-2'] });
    expect(tags).toEqual([entityTag('catalog', 'Product', 'p-1'), entityTag('catalog', 'Product', 'p-2')]);
  });

  it('should outdate everything when the event does not name its products', () => {
    for (const data of [{}, { productIds: [] }, { productIds: [''] }, { productIds: 'p-1' }, null]) expect(tagsOf(ProductDiscoveryChanged.type, data)).toEqual([ALL_TAG]);
  });
});
