import type { RequestContext } from '@shop/platform';
import { createLoaders } from './loaders';
import type { OrdersLoaders } from './loaders';
import type { OrdersRuntimeOptions, OrdersRuntime } from './runtime';
import { runtimeFor } from './runtime';

export interface OrdersContext extends RequestContext {
  readonly runtime: OrdersRuntime;
  readonly loaders: OrdersLoaders;
}

export function contextFactory(options: OrdersRuntimeOptions): (base: RequestContext) => OrdersContext {
  return (base) => {
    const runtime = runtimeFor(base.deps, options);
    return { ...base, runtime, loaders: createLoaders(runtime.repo) };
  };
}
