/**
 * The pages retailers see: plain words for a shop owner, what to do next, accessible and
 * responsive, with no script and nothing loaded from elsewhere.
 *
 * The response headers (./responses.ts) add CSP `default-src 'none'` and `Referrer-Policy: no-referrer`;
 * the inline style is the only thing these pages need. test/browser checks them in a real browser
 * (contrast, landmarks, phone width).
 */

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

export type PageTone = 'success' | 'info' | 'error';

/** The badge's symbol differs per tone, so the outcome never rests on colour alone. */
const TONES: Record<PageTone, { icon: string }> = {
  success: { icon: '✓' },
  info: { icon: 'i' },
  error: { icon: '!' },
};

export interface PageContent {
  /** The page title and its one heading. */
  title: string;
  tone: PageTone;
  /** What happened, one paragraph each. */
  lines: readonly string[];
  /** What the shop owner can do now, shown under "What to do next". */
  next?: readonly string[];
}

// Colours: every text/background pair has a contrast ratio of at least 4.5:1, light and dark
// (white on each accent included); test/browser/connect-flow.browser.test.ts measures them.
const STYLE = `
    :root { color-scheme: light dark; --bg: #f3f4f6; --card: #fff; --text: #1f2328; --muted: #4b5563; --line: #d0d7de;
      --success: #1a7f37; --info: #0b5cad; --error: #b42318; }
    @media (prefers-color-scheme: dark) {
      :root { --bg: #0d1117; --card: #161b22; --text: #e6edf3; --muted: #b1bac4; --line: #30363d; }
    }
    *, *::before, *::after { box-sizing: border-box; }
    html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
    body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); overflow-wrap: anywhere; }
    header, footer { width: 100%; max-width: 36rem; margin: 0 auto; padding: 1rem 1rem 0; color: var(--muted); font-size: .875rem; }
    header p { margin: 0; font-weight: 600; letter-spacing: .02em; }
    main { width: 100%; max-width: 36rem; margin: 1rem auto; padding: 2rem; background: var(--card); border: 1px solid var(--line); border-radius: 12px; box-shadow: 0 1px 3px rgba(0, 0, 0, .12); }
    .badge { display: inline-flex; width: 2.75rem; height: 2.75rem; border-radius: 50%; align-items: center; justify-content: center; color: #fff; font-weight: 700; font-size: 1.375rem; line-height: 1; }
    .success .badge { background: var(--success); }
    .info .badge { background: var(--info); }
    .error .badge { background: var(--error); }
    h1 { font-size: 1.625rem; line-height: 1.25; margin: 1rem 0 .75rem; }
    h2 { font-size: 1.125rem; margin: 1.5rem 0 .5rem; padding-top: 1.25rem; border-top: 1px solid var(--line); }
    p { margin: 0 0 .75rem; }
    ul { margin: 0; padding-left: 1.25rem; }
    li + li { margin-top: .5rem; }
    footer p { margin: 0 0 1.5rem; }
    @media (max-width: 36rem) {
      header, footer { padding: .75rem 1rem 0; }
      main { margin: .75rem 0; padding: 1.5rem 1.25rem; border-radius: 0; border-width: 1px 0; }
      h1 { font-size: 1.5rem; }
    }`;

/** Renders a small self-contained page. All text is escaped. */
export function renderPage(input: PageContent): string {
  const tone = TONES[input.tone];
  const paragraphs = input.lines.map((line) => `\n    <p>${escapeHtml(line)}</p>`).join('');
  const next =
    input.next === undefined || input.next.length === 0
      ? ''
      : `
    <h2>What to do next</h2>
    <ul>${input.next.map((step) => `\n      <li>${escapeHtml(step)}</li>`).join('')}
    </ul>`;
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <meta name="robots" content="noindex">
  <meta name="color-scheme" content="light dark">
  <title>${escapeHtml(input.title)}</title>
  <style>${STYLE}
  </style>
</head>
<body>
  <header>
    <p>Store connection</p>
  </header>
  <main class="${input.tone}">
    <span class="badge" aria-hidden="true">${tone.icon}</span>
    <h1>${escapeHtml(input.title)}</h1>${paragraphs}${next}
  </main>
  <footer>
    <p>This page belongs to the secure connection service of the app you are setting up. It never sees your password.</p>
  </footer>
</body>
</html>
`;
}

const APP = 'the app you were setting up';

export const pages = {
  connected: (providerName: string, account: string) =>
    renderPage({
      title: 'Your store is connected',
      tone: 'success',
      lines: [
        `${providerName} store "${account}" is now connected.`,
        `${capitalize(APP)} can now work with your store. There is nothing more to do on this page.`,
      ],
      next: [
        `Close this window or tab and go back to ${APP}. If it still says the store is not connected, reload its page.`,
        `You can remove this access at any time in your ${providerName} settings.`,
      ],
    }),
  declined: (providerName: string) =>
    renderPage({
      title: 'You declined the connection',
      tone: 'info',
      lines: [
        `You chose not to give ${APP} access to your ${providerName} store. Nothing was connected and no data was shared.`,
      ],
      next: [
        'If you meant to decline, you can close this window.',
        `If this was a mistake, go back to ${APP}, start connecting again, and this time allow access.`,
      ],
    }),
  invalid: () =>
    renderPage({
      title: 'This connection request is no longer valid',
      tone: 'error',
      lines: [
        'Nothing was connected and nothing in your store was changed.',
        'This happens when connecting was started in another browser or a private window, took longer than 10 minutes, or when this page was opened again after it had already finished.',
      ],
      next: [
        'If you already saw "Your store is connected", you are done and can close this window.',
        `Otherwise, go back to ${APP} and start connecting again. Stay in this browser and finish within 10 minutes.`,
      ],
    }),
  failed: (providerName: string) =>
    renderPage({
      title: 'The connection did not finish',
      tone: 'error',
      lines: [
        `${providerName} did not complete the connection, so nothing was stored. This is usually temporary.`,
      ],
      next: [
        `Wait a minute, then go back to ${APP} and start connecting again.`,
        `If it fails again, contact the support of ${APP} and tell them when it happened.`,
      ],
    }),
  unavailable: () =>
    renderPage({
      title: 'The connection service has a problem',
      tone: 'error',
      lines: [
        'Something went wrong on our side, so your store was not connected. This is usually temporary.',
      ],
      next: [
        `Wait a few minutes, then go back to ${APP} and start connecting again.`,
        `If it fails again, contact the support of ${APP} and tell them when it happened.`,
      ],
    }),
  expired: () =>
    renderPage({
      title: 'This link has expired or was already used',
      tone: 'error',
      lines: ['Connect links work only once and only for 10 minutes, so that nobody else can use them.'],
      next: [
        'If you already connected your store with this link, you are done and can close this window.',
        `Otherwise, go back to ${APP} and ask it for a new connect link.`,
      ],
    }),
};

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
