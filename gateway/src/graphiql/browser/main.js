/*
 * The browser side of the self-hosted GraphiQL (5.x, Monaco editors) with the explorer plugin and
 * the subscription log, bundled by bundle.ts with esbuild into one script, one stylesheet (with
 * Monaco's codicon font beside it) and the three Monaco web workers. Everything is served by the
 * gateway: nothing is loaded from a CDN. The page passes its settings (endpoint, default query and
 * headers, worker URLs) in <script type="application/json" id="graphiql-config">.
 */
import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';
import './page.css';
import * as monaco from 'monaco-graphql/esm/monaco-editor.js';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { GraphiQL } from 'graphiql';
import * as React from 'react';
import { createRoot } from 'react-dom/client';
import { createFetcher } from './fetcher.js';
import { SubscriptionLogView, createSubscriptionLog } from './subscription-log.js';

const root = document.getElementById('graphiql');

function fail(message) {
  if (root) {
    root.textContent = `GraphiQL failed to start: ${message}`;
    root.className = 'graphiql-boot-error';
  }
  console.error(`[graphiql] ${message}`);
}

function boot() {
  let config;
  try {
    config = JSON.parse(document.getElementById('graphiql-config').textContent || '{}');
  } catch (error) {
    fail(`bad page configuration: ${error}`);
    return;
  }

  // Monaco's workers, from the gateway (same origin, so the page's CSP `script-src 'self'` covers
  // them; Monaco's default would build blob: URLs).
  globalThis.MonacoEnvironment = {
    getWorker(_workerId, label) {
      const url = config.workers[label] || config.workers.editor;
      return new Worker(url, { name: `graphiql-${label}` });
    },
  };
  // The editors' API, for scripts and tests driving the page (what Monaco's AMD build also exposes).
  globalThis.monaco = monaco;

  const log = createSubscriptionLog();
  const explorer = explorerPlugin({ showAttribution: false });
  const e = React.createElement;
  const element = e(
    GraphiQL,
    {
      fetcher: createFetcher(config, log),
      plugins: [explorer],
      visiblePlugin: explorer,
      defaultQuery: config.defaultQuery,
      defaultHeaders: config.defaultHeaders,
      isHeadersEditorEnabled: true,
      // Never write bearer tokens to localStorage.
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: 'headers',
    },
    e(GraphiQL.Footer, null, e(SubscriptionLogView, { log })),
  );
  root.textContent = '';
  createRoot(root).render(element);
}

boot();
