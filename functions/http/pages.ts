/**
 * The pages retailers see: plain words for a shop owner, what to do next, accessible and
 * responsive, with no script and nothing loaded from elsewhere.
 */

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

export type PageTone = 'success' | 'info' | 'error';

const TONES: Record<PageTone, { accent: string; icon: string }> = {
  success: { accent: '#1a7f37', icon: '✓' },
  info: { accent: '#0b5cad', icon: 'i' },
  error: { accent: '#b42318', icon: '!' },
};

/** Renders a small self-contained page. All text is escaped. */
export function renderPage(input: { title: string; tone: PageTone; lines: readonly string[] }): string {
  const tone = TONES[input.tone];
  const paragraphs = input.lines.map((line) => `<p>${escapeHtml(line)}</p>`).join('\n      ');
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>${escapeHtml(input.title)}</title>
  <style>
    body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #f6f7f9; color: #1f2328; }
    main { max-width: 34rem; margin: 10vh auto; padding: 2rem; background: #fff; border-radius: 12px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
    .badge { display: inline-flex; width: 2.5rem; height: 2.5rem; border-radius: 50%; align-items: center; justify-content: center; color: #fff; background: ${tone.accent}; font-weight: 700; font-size: 1.25rem; }
    h1 { font-size: 1.5rem; margin: 1rem 0 .5rem; }
    @media (max-width: 36rem) { main { margin: 0; border-radius: 0; min-height: 100vh; box-sizing: border-box; } }
  </style>
</head>
<body>
  <main>
    <span class="badge" aria-hidden="true">${tone.icon}</span>
    <h1>${escapeHtml(input.title)}</h1>
      ${paragraphs}
  </main>
</body>
</html>
`;
}

export const pages = {
  connected: (providerName: string, account: string) =>
    renderPage({
      title: 'Your store is connected',
      tone: 'success',
      lines: [
        `${providerName} store "${account}" is now connected.`,
        'You can close this window and return to the app you were setting up.',
      ],
    }),
  declined: (providerName: string) =>
    renderPage({
      title: 'Connection declined',
      tone: 'info',
      lines: [
        `You chose not to give access to your ${providerName} store. Nothing was connected and no data was shared.`,
        'If this was a mistake, go back to the app and start the connection again.',
      ],
    }),
  invalid: () =>
    renderPage({
      title: 'This link cannot be used',
      tone: 'error',
      lines: [
        'The connection request is incomplete, has expired, was already used, or was started in another browser.',
        'Nothing was connected. Go back to the app and start the connection again, in this browser.',
      ],
    }),
  failed: (providerName: string) =>
    renderPage({
      title: 'The connection did not finish',
      tone: 'error',
      lines: [
        `${providerName} did not complete the connection. Nothing was stored.`,
        'This is usually temporary: wait a minute, then go back to the app and start the connection again.',
      ],
    }),
  expired: () =>
    renderPage({
      title: 'This link has expired or was already used',
      tone: 'error',
      lines: [
        'Connect links work once and only for 10 minutes.',
        'Go back to the app you were setting up and ask it for a new link.',
      ],
    }),
};
