/*
 * GraphiQL's fetcher: queries and mutations over HTTP POST to the endpoint, subscriptions over
 * graphql-ws on the same path (ws:// or wss:// from the page's location). The headers typed into
 * the Headers tab go with every HTTP request and, with lower-cased names, as the graphql-ws
 * connection_init payload ({"Authorization": "Bearer x"} -> { authorization: "Bearer x" }), which is
 * how the gateway authenticates a socket. Every subscription is recorded in the subscription log.
 * Browser code, bundled by bundle.ts with esbuild.
 */
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { parse } from 'graphql';
import { createClient } from 'graphql-ws';

/** Headers-editor object -> connection_init payload: string values only, names lower-cased. */
export function connectionParamsFrom(headers) {
  const params = {};
  if (headers && typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || value === null) continue;
      params[name.toLowerCase()] = String(value);
    }
  }
  return params;
}

/** The operation GraphiQL runs: the named one, else the only one. */
function selectedOperation(document, operationName) {
  const operations = document.definitions.filter((definition) => definition.kind === 'OperationDefinition');
  if (operationName) return operations.find((operation) => operation.name && operation.name.value === operationName);
  return operations.length === 1 ? operations[0] : undefined;
}

/**
 * One graphql-ws client per distinct set of headers; lazy, so it only holds a socket while a
 * subscription runs. A change of headers (e.g. a new token) disposes the previous client, so the
 * next subscription authenticates again with the new connection_init payload.
 */
function createWsClients(wsUrl) {
  let current = null; // { key, client, connected, onConnected: Set }
  return function wsClientFor(headers) {
    const params = connectionParamsFrom(headers);
    const key = JSON.stringify(params);
    if (current && current.key === key) return current;
    if (current) current.client.dispose();
    const entry = { key, connected: false, onConnected: new Set(), client: null };
    entry.client = createClient({
      url: wsUrl,
      lazy: true,
      retryAttempts: 3,
      connectionParams: () => params,
      on: {
        connected: () => {
          entry.connected = true;
          const waiting = [...entry.onConnected];
          entry.onConnected.clear();
          waiting.forEach((callback) => callback());
        },
        closed: () => {
          entry.connected = false;
        },
      },
    });
    current = entry;
    return entry;
  };
}

/** Wraps GraphiQL's async iterable of events so that the log sees each event, the end, a stop or an error. */
function recorded(iterable, recorder) {
  const inner = iterable[Symbol.asyncIterator]();
  let finished = false;
  const iterator = {
    async next() {
      try {
        const step = await inner.next();
        if (finished) return step;
        if (step.done) {
          finished = true;
          recorder.ended();
        } else {
          recorder.event(step.value);
        }
        return step;
      } catch (error) {
        finished = true;
        recorder.failed(error);
        throw error;
      }
    },
    async return(value) {
      if (!finished) {
        finished = true;
        recorder.stopped();
      }
      return inner.return ? inner.return(value) : { done: true, value };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/**
 * @param config  { endpointPath }
 * @param log     the subscription log (subscription-log.js)
 */
export function createFetcher(config, log) {
  const httpUrl = new URL(config.endpointPath || '/graphql', window.location.href);
  httpUrl.search = '';
  httpUrl.hash = '';
  const wsUrl = new URL(httpUrl.href);
  wsUrl.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const wsClientFor = createWsClients(wsUrl.href);
  const httpHeaders = { accept: 'application/graphql-response+json, application/json' };

  return function fetcher(graphQLParams, opts) {
    const headers = (opts && opts.headers) || {};
    // The toolkit routes an operation to graphql-ws when opts.documentAST says it is a
    // subscription; GraphiQL updates documentAST with a debounce, so a run right after a paste
    // would see the previous document: parse the text that is being sent.
    let document;
    if (typeof graphQLParams.query === 'string') {
      try {
        document = parse(graphQLParams.query);
        opts = { ...opts, documentAST: document };
      } catch {
        // A syntax error: the server reports it.
      }
    }
    // The operation name has the same debounce: after a paste it may name an operation of the
    // previous text, or none. A document with one operation runs that one, under its own name
    // (which is also what the toolkit needs to tell a subscription).
    let operation = document && selectedOperation(document, graphQLParams.operationName);
    if (document && !operation) {
      const operations = document.definitions.filter((definition) => definition.kind === 'OperationDefinition');
      if (operations.length === 1) operation = operations[0];
    }
    if (operation) graphQLParams = { ...graphQLParams, operationName: operation.name ? operation.name.value : undefined };
    const isSubscription = operation && operation.operation === 'subscription';
    const recorder = isSubscription ? log.start(operation.name ? operation.name.value : firstField(operation)) : null;

    const wsClient = {
      subscribe(payload, sink) {
        const entry = wsClientFor(headers);
        if (recorder) {
          if (entry.connected) recorder.connected();
          else entry.onConnected.add(recorder.connected);
        }
        const unsubscribe = entry.client.subscribe(payload, sink);
        return () => {
          if (recorder) entry.onConnected.delete(recorder.connected);
          unsubscribe();
        };
      },
    };
    // Built per call so that its wsClient is the one for the headers of this very call (a few closures).
    const toolkitFetcher = createGraphiQLFetcher({
      url: httpUrl.href,
      headers: httpHeaders,
      wsClient,
      enableIncrementalDelivery: false,
    });
    const result = toolkitFetcher(graphQLParams, opts);
    if (!recorder) return result;
    return Promise.resolve(result).then(
      (value) => (value && typeof value[Symbol.asyncIterator] === 'function' ? recorded(value, recorder) : (recorder.event(value), recorder.ended(), value)),
      (error) => {
        recorder.failed(error);
        throw error;
      },
    );
  };
}

function firstField(operation) {
  const field = operation.selectionSet.selections.find((selection) => selection.kind === 'Field');
  return field ? field.name.value : '';
}
