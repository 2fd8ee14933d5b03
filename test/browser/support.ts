/**
 * Browser-test harness: Debian's Chromium driven by playwright-core (no browser download).
 *
 * Without Chromium the browser tests are skipped with a message, except in CI (`CI=true`), where a
 * missing browser fails them: `.ci/install-browser` installs it.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Where the browser is; CHROMIUM_PATH points elsewhere (e.g. a Chromium or Chrome on macOS). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH?.trim() || '/usr/bin/chromium';

export const browserInstalled = existsSync(CHROMIUM_PATH);
/** In CI a missing browser is a failure, not a skip. */
export const browserRequired = process.env.CI === 'true';
export const runBrowserTests = browserInstalled || browserRequired;

export const SKIP_MESSAGE =
  `Browser tests skipped: no Chromium at ${CHROMIUM_PATH}. Install it with .ci/install-browser ` +
  '(Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH. In CI (CI=true) they fail instead.';

/** Screenshots for people to look at; test-results/ is gitignored. */
export const SCREENSHOT_DIR = resolve(import.meta.dirname, '../../test-results/screenshots');

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

/** Flags that keep a headless Chromium quiet and off the network except for what pages load. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches Chromium with a fresh temporary profile; fails with a clear message when it is missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!browserInstalled) {
    throw new Error(`CI=true but there is no Chromium at ${CHROMIUM_PATH}: run .ci/install-browser first`);
  }
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 20_000 });
}

/** What a browser context did: every request URL, and console errors and uncaught page errors. */
export interface Recorder {
  readonly requests: string[];
  readonly consoleErrors: string[];
  /** The requests that did not go to 127.0.0.1 or localhost (data: and about: URLs load nothing). */
  offLoopback(): string[];
}

export function record(context: BrowserContext): Recorder {
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
  };
  context.on('request', (request) => requests.push(request.url()));
  context.on('page', watch);
  for (const page of context.pages()) watch(page);
  return {
    requests,
    consoleErrors,
    offLoopback: () =>
      requests.filter((url) => {
        const { protocol, hostname } = new URL(url);
        if (protocol === 'data:' || protocol === 'about:') return false;
        return !['http:', 'https:'].includes(protocol) || !['127.0.0.1', 'localhost'].includes(hostname);
      }),
  };
}

/** One piece of visible text and the colours it is drawn with. */
export interface TextContrast {
  readonly element: string;
  readonly text: string;
  readonly color: string;
  readonly background: string;
  readonly ratio: number;
}

/**
 * Runs in the page (as source text: the project's TypeScript has no DOM types). For every visible
 * element with text of its own: its colour against the background behind it (the element's and its
 * ancestors' backgrounds composited until one is opaque, white below everything), as the WCAG 2
 * contrast ratio.
 */
const CONTRAST_SCRIPT = String.raw`(() => {
  const parse = (value) => {
    const open = value.indexOf('(');
    if (!/^rgba?\(/.test(value) || open < 0) throw new Error('unexpected colour ' + value);
    const parts = value.slice(open + 1, -1).split(/[\s,\/]+/).filter(Boolean).map(Number);
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const over = (top, below) => ({
    r: top.r * top.a + below.r * (1 - top.a),
    g: top.g * top.a + below.g * (1 - top.a),
    b: top.b * top.a + below.b * (1 - top.a),
    a: 1,
  });
  const backdrop = (element) => {
    const layers = [];
    for (let node = element; node !== null; node = node.parentElement) {
      const layer = parse(getComputedStyle(node).backgroundColor);
      if (layer.a > 0) layers.push(layer);
      if (layer.a >= 1) break;
    }
    return layers.reduceRight((below, layer) => over(layer, below), { r: 255, g: 255, b: 255, a: 1 });
  };
  const luminance = ({ r, g, b }) => {
    const linear = (c) => {
      const s = c / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  const css = ({ r, g, b }) => 'rgb(' + [r, g, b].map(Math.round).join(', ') + ')';
  const results = [];
  for (const element of document.body.querySelectorAll('*')) {
    const own = [...element.childNodes]
      .filter((node) => node.nodeType === Node.TEXT_NODE)
      .map((node) => node.textContent.trim())
      .join(' ')
      .trim();
    if (own === '' || element.getClientRects().length === 0) continue;
    const style = getComputedStyle(element);
    if (style.visibility !== 'visible' || Number(style.opacity) === 0) continue;
    const background = backdrop(element);
    const color = over(parse(style.color), background);
    const [light, dark] = [luminance(color), luminance(background)].sort((x, y) => y - x);
    results.push({
      element: element.tagName.toLowerCase() + (element.className ? '.' + element.className : ''),
      text: own.slice(0, 60),
      color: css(color),
      background: css(background),
      ratio: Math.round(((light + 0.05) / (dark + 0.05)) * 100) / 100,
    });
  }
  return results;
})()`;

/** The contrast of every visible text on the page, as it is rendered now. */
export function measureContrast(page: Page): Promise<TextContrast[]> {
  return page.evaluate(CONTRAST_SCRIPT) as Promise<TextContrast[]>;
}

/** Whether the page scrolls sideways (content wider than the viewport). */
export function overflowsHorizontally(page: Page): Promise<boolean> {
  return page.evaluate(
    'document.documentElement.scrollWidth > document.documentElement.clientWidth',
  ) as Promise<boolean>;
}
