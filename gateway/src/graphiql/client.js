/*
 * Browser-side bootstrap of the self-hosted GraphiQL explorer (served as a static asset by
 * graphiql.ts; NOT bundled, NOT type-checked). It relies on globals set by the UMD builds the
 * page loads before it, all served from the gateway itself:
 *   React, ReactDOM   react/umd, react-dom/umd (production builds)
 *   GraphiQL          graphiql/graphiql.min.js (the component, with GraphiQL.createFetcher =
 *                     @graphiql/toolkit's createGraphiQLFetcher)
 *   graphqlWs         graphql-ws/umd/graphql-ws.min.js (graphql-ws v6 client)
 * Queries and mutations go over HTTP POST to the endpoint; subscriptions go over graphql-ws on the
 * same path (ws:// or wss:// derived from the page location). The headers typed into GraphiQL's
 * headers editor are sent with every HTTP request and, with lower-cased names, as the graphql-ws
 * connection_init payload (e.g. {"Authorization": "Bearer x"} -> { authorization: "Bearer x" }).
 */
(function () {
  'use strict';

  var root = document.getElementById('graphiql');

  function fail(message) {
    if (root) {
      root.textContent = 'GraphiQL failed to start: ' + message;
      root.className = 'graphiql-boot-error';
    }
    if (window.console) console.error('[graphiql] ' + message);
  }

  var missing = ['React', 'ReactDOM', 'GraphiQL', 'graphqlWs'].filter(function (name) {
    return !window[name];
  });
  if (missing.length > 0) {
    fail('missing script(s): ' + missing.join(', '));
    return;
  }

  var config;
  try {
    config = JSON.parse(document.getElementById('graphiql-config').textContent || '{}');
  } catch (error) {
    fail('bad page configuration: ' + error);
    return;
  }

  var endpointPath = config.endpointPath || '/graphql';
  var httpUrl = new URL(endpointPath, window.location.href);
  httpUrl.search = '';
  httpUrl.hash = '';
  var wsUrl = new URL(httpUrl.href);
  wsUrl.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';

  /** Headers-editor object -> connection_init payload: string values only, names lower-cased. */
  function connectionParamsFrom(headers) {
    var params = {};
    if (headers && typeof headers === 'object') {
      Object.keys(headers).forEach(function (name) {
        var value = headers[name];
        if (value === undefined || value === null) return;
        params[name.toLowerCase()] = String(value);
      });
    }
    return params;
  }

  // One graphql-ws client per distinct set of headers; lazy, so it only holds a socket while a
  // subscription runs. A change of headers (e.g. a new token) disposes the previous client, so the
  // next subscription authenticates again with the new connection_init payload.
  var current = null; // { key, client }
  function wsClientFor(headers) {
    var params = connectionParamsFrom(headers);
    var key = JSON.stringify(params);
    if (current && current.key === key) return current.client;
    if (current) current.client.dispose();
    var client = window.graphqlWs.createClient({
      url: wsUrl.href,
      lazy: true,
      retryAttempts: 3,
      connectionParams: function () {
        return params;
      },
    });
    current = { key: key, client: client };
    return client;
  }

  var httpHeaders = { accept: 'application/graphql-response+json, application/json' };

  /**
   * GraphiQL calls the fetcher with the operation and { headers, documentAST, ... }. We build the
   * toolkit fetcher (createGraphiQLFetcher) per call so that its wsClient is the one matching the
   * headers of this very call; building it is just a few closures.
   */
  function fetcher(graphQLParams, opts) {
    var headers = (opts && opts.headers) || {};
    // The toolkit routes an operation to graphql-ws when opts.documentAST says it is a subscription.
    // GraphiQL updates documentAST from the editor with a debounce, so a run right after a paste
    // would see the previous document and send a subscription over HTTP: parse the sent query here.
    var graphqlJs = window.GraphiQL.GraphQL;
    if (graphqlJs && typeof graphQLParams.query === 'string') {
      try {
        opts = Object.assign({}, opts, { documentAST: graphqlJs.parse(graphQLParams.query) });
      } catch (error) {
        // Syntax error: leave opts alone; the server will report it.
      }
    }
    var wsClient = {
      subscribe: function (payload, sink) {
        return wsClientFor(headers).subscribe(payload, sink);
      },
    };
    var toolkitFetcher = window.GraphiQL.createFetcher({
      url: httpUrl.href,
      headers: httpHeaders,
      wsClient: wsClient,
      enableIncrementalDelivery: false,
    });
    return toolkitFetcher(graphQLParams, opts);
  }

  var e = window.React.createElement;
  var element = e(window.GraphiQL, {
    fetcher: fetcher,
    defaultQuery: config.defaultQuery,
    isHeadersEditorEnabled: true,
    // Never write bearer tokens to localStorage.
    shouldPersistHeaders: false,
    defaultEditorToolsVisibility: 'headers',
  });

  root.textContent = '';
  window.ReactDOM.createRoot(root).render(element);
})();
