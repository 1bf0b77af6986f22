/**
 * What a catalog discovery event outdates in the gateway's cache: every product whose
 * bought-together partners a confirmed order moved, and not catalog's lists (every confirmed
 * order would empty them); an event that does not say which products outdates everything.
 */
import { CategoryCreated, ProductDiscoveryChanged } from '@shop/events';
import { tagsOf } from '../src/cache/cache-invalidations';
import { ALL_TAG } from '../src/cache/cache-store';
import { entityTag, listTag } from '../src/cache/entity-cache';

describe('tagsOf catalog.product-discovery-changed.v1', () => {
  it('should outdate each product the order counted, not catalog\'s lists', () => {
    const tags = tagsOf(ProductDiscoveryChanged.type, { productIds: ['p-1', 'p-2'] });
    expect(tags).toEqual([entityTag('catalog', 'Product', 'p-1'), entityTag('catalog', 'Product', 'p-2')]);
  });

  it('should outdate everything when the event does not name its products', () => {
    for (const data of [{}, { productIds: [] }, { productIds: [''] }, { productIds: 'p-1' }, null]) expect(tagsOf(ProductDiscoveryChanged.type, data)).toEqual([ALL_TAG]);
  });
});

describe('tagsOf catalog.category-created.v1', () => {
  it("should outdate catalog's lists, and the parent's children when it has a parent", () => {
    expect(tagsOf(CategoryCreated.type, { categoryId: 'c-2', name: 'Lamps', slug: 'lamps', parentId: null })).toEqual([listTag('catalog')]);
    expect(tagsOf(CategoryCreated.type, { categoryId: 'c-2', name: 'Lamps', slug: 'home-lamps', parentId: 'c-1' })).toEqual([listTag('catalog'), entityTag('catalog', 'Category', 'c-1')]);
  });
});
