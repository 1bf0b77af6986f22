/**
 * Drives Debian's Chromium (headless, via playwright-core) with the network cut off: only
 * localhost is reachable, every other request is aborted and recorded so tests can assert that
 * a page loads nothing from the internet.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface OfflineBrowser {
  readonly browser: Browser;
  readonly page: Page;
  /** Requests to anything but localhost (aborted). */
  readonly blocked: string[];
  readonly websockets: string[];
  readonly consoleErrors: string[];
  readonly pageErrors: string[];
  close(): Promise<void>;
}

/** Launches Chromium offline; fails (never skips) when it is not installed. */
export async function launchOfflineChromium(): Promise<OfflineBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/ensure-chromium.sh (installs Debian's chromium)`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      // Belt and braces: no name other than localhost resolves, even for the browser's own traffic.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
    ],
  });
  const blocked: string[] = [];
  const websockets: string[] = [];
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if ((url.protocol === 'http:' || url.protocol === 'https:') && LOCAL_HOSTS.has(url.hostname)) {
      await route.continue();
    } else {
      blocked.push(route.request().url());
      await route.abort('blockedbyclient');
    }
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('websocket', (ws) => websockets.push(ws.url()));
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  return { browser, page, blocked, websockets, consoleErrors, pageErrors, close: () => browser.close() };
}

/** The little of the DOM and of Monaco the page-side callbacks use (the tsconfig has no "dom" lib). */
interface PageNode {
  contains(other: PageNode): boolean;
}
interface MonacoEditor {
  getContainerDomNode(): PageNode;
  getValue(): string;
  setValue(text: string): void;
}
interface PageGlobals {
  document: { querySelector(selector: string): PageNode | null };
  /** Set by the GraphiQL page (gateway/src/graphiql/browser/main.js). */
  monaco?: { editor: { getEditors(): MonacoEditor[] } };
}

/** Runs in the page: the text of the (Monaco) editor inside `selector`, '' when absent. */
export function editorValueInPage(selector: string): string {
  const { document, monaco } = globalThis as unknown as PageGlobals;
  const element = document.querySelector(selector);
  const editor = element && monaco?.editor.getEditors().find((candidate) => element.contains(candidate.getContainerDomNode()));
  return editor ? editor.getValue() : '';
}

/** Runs in the page: whether the editor inside `selector` contains `needle` (`exact`: equals it). */
export function editorHasInPage({ selector, needle, exact }: { selector: string; needle: string; exact: boolean }): boolean {
  const { document, monaco } = globalThis as unknown as PageGlobals;
  const element = document.querySelector(selector);
  const editor = element && monaco?.editor.getEditors().find((candidate) => element.contains(candidate.getContainerDomNode()));
  const value = editor ? editor.getValue() : '';
  return exact ? value === needle : value.includes(needle);
}

/** Runs in the page: replaces the text of the editor inside `selector`; false when there is none yet. */
export function setEditorInPage({ selector, text }: { selector: string; text: string }): boolean {
  const { document, monaco } = globalThis as unknown as PageGlobals;
  const element = document.querySelector(selector);
  const editor = element && monaco?.editor.getEditors().find((candidate) => element.contains(candidate.getContainerDomNode()));
  if (!editor) return false;
  editor.setValue(text);
  return true;
}

/** GraphiQL's result pane. */
export const RESULT = '.graphiql-response';

/**
 * Replaces the text of the Monaco editor inside `selector` like a paste would: focuses it with a
 * click, then sets its text through Monaco's API (typing would run auto-closing brackets and indent).
 */
export async function setEditor(page: Page, selector: string, text: string): Promise<void> {
  await page.locator(`${selector} .monaco-editor`).first().click();
  await page.waitForFunction(setEditorInPage, { selector, text });
  await page.waitForFunction(editorHasInPage, { selector, needle: text, exact: true });
}

/** Waits until GraphiQL's result pane shows `needle`; answers the whole result text. */
export async function waitForResult(page: Page, needle: string, timeout = 10_000): Promise<string> {
  try {
    await page.waitForFunction(editorHasInPage, { selector: RESULT, needle, exact: false }, { timeout });
  } catch (error) {
    const shown = await page.evaluate(editorValueInPage, RESULT);
    throw new Error(`result pane never showed ${JSON.stringify(needle)}; it shows:\n${shown}\n${String(error)}`);
  }
  return page.evaluate(editorValueInPage, RESULT);
}

/**
 * Opens GraphiQL at `url` and waits until it is on screen; answers the page's HTTP status. The
 * first request to a gateway may build GraphiQL's bundle (esbuild, seconds on a loaded machine),
 * hence the generous default timeout (120 s).
 */
export async function openGraphiql(page: Page, url: string, timeout = 120_000): Promise<number | undefined> {
  const response = await page.goto(url, { waitUntil: 'load', timeout });
  await page.waitForSelector('.graphiql-container', { timeout });
  return response?.status();
}

/** The subscription log under GraphiQL's response pane (gateway/src/graphiql/browser/subscription-log.js). */
export const SUBSCRIPTION_LOG = '.shop-subscription-log';
export const SUBSCRIPTION_LOG_STATUS = `${SUBSCRIPTION_LOG} .shop-subscription-log-status`;
export const SUBSCRIPTION_LOG_EVENTS = `${SUBSCRIPTION_LOG} .shop-subscription-log-event`;
/** GraphiQL's Headers tab (its editor, when the tab is shown). */
export const HEADERS_EDITOR = '.graphiql-editor-tool .graphiql-editor:not(.hidden)';

/** The text the user sees in the first element matching `selector` (Monaco renders spaces as &nbsp;: folded to one space). */
export async function shownText(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ');
}
