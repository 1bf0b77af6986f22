/**
 * `extensions.stale` (the contract's protocol name, /work/shared/contract/api-next.graphql): the
 * list of `{ service, path, ageSeconds }` of every part of a response that the cache answered
 * because its subgraph failed.
 *
 * The entity cache records, per request, where a stale answer went as @apollo/gateway addresses it
 * (the fetch's cursor path, e.g. `products.edges.@.node`, and the index of the representation); the
 * plugin turns that into response paths once the response is shaped, walking the cursor path over
 * the response data the way the gateway itself numbers the entities of a fetch (non-null objects,
 * in order; `generateHydratedPaths` in @apollo/gateway's executeQueryPlan).
 */
import type { ApolloServerPlugin } from '@apollo/server';

/** One stale answer as the entity cache records it. */
export interface StaleRecord {
  readonly service: string;
  /** The fetch's cursor path in the response (`@` for every element of a list). */
  readonly at: ReadonlyArray<string | number>;
  /** Which entity of the fetch (its representation index); undefined for a root fetch. */
  readonly entityIndex: number | undefined;
  /** Response names of the fields the fetch adds there. */
  readonly fields: readonly string[];
  readonly ageSeconds: number;
}

/** One entry of `extensions.stale`. */
export interface StaleMarker {
  readonly service: string;
  readonly path: ReadonlyArray<string | number>;
  readonly ageSeconds: number;
}

/** The stale answers of each request in flight, keyed by its context object. */
export class StaleAnswers {
  private readonly records = new WeakMap<object, StaleRecord[]>();

  record(context: object | undefined, record: StaleRecord): void {
    if (!context) return;
    const list = this.records.get(context);
    if (list) list.push(record);
    else this.records.set(context, [record]);
  }

  /** The markers of a request, resolved against its response data. */
  markers(context: object, data: Record<string, unknown> | null | undefined): StaleMarker[] {
    const records = this.records.get(context);
    if (!records) return [];
    const markers: StaleMarker[] = [];
    const hydrated = new Map<string, Array<Array<string | number>>>();
    for (const r of records) {
      let base: Array<string | number> | undefined;
      if (r.entityIndex === undefined) base = r.at.filter((p) => p !== '@');
      else {
        const key = r.at.join('\u0000');
        let paths = hydrated.get(key);
        if (!paths) {
          paths = [];
          hydrate([], r.at, data, paths);
          hydrated.set(key, paths);
        }
        base = paths[r.entityIndex];
      }
      // An entity nulled on the way (a non-null field below it failed) has no path left to mark.
      if (!base) continue;
      for (const field of r.fields) markers.push({ service: r.service, path: [...base, field], ageSeconds: r.ageSeconds });
    }
    return markers;
  }

  /** The Apollo Server plugin that adds `extensions.stale` to responses that hold stale answers. */
  plugin(): ApolloServerPlugin {
    return {
      requestDidStart: async () => ({
        willSendResponse: async (rc) => {
          if (rc.response.body.kind !== 'single') return;
          const result = rc.response.body.singleResult;
          const markers = this.markers(rc.contextValue as object, result.data);
          if (markers.length) result.extensions = { ...result.extensions, stale: markers };
        },
      }),
    };
  }
}

/** The paths of the non-null objects a cursor path reaches, in the gateway's order. */
function hydrate(parent: Array<string | number>, path: ReadonlyArray<string | number>, data: unknown, out: Array<Array<string | number>>): void {
  if (data === null || data === undefined) return;
  const [head, ...rest] = path;
  if (head === undefined) {
    out.push([...parent]);
  } else if (head === '@') {
    if (Array.isArray(data)) data.forEach((value, i) => hydrate([...parent, i], rest, value, out));
  } else if (Array.isArray(data)) {
    data.forEach((value, i) => hydrate([...parent, i], path, value, out));
  } else if (typeof data === 'object' && Object.hasOwn(data, head)) {
    hydrate([...parent, head], rest, (data as Record<string, unknown>)[head], out);
  }
}
