/**
 * The merchant-facing pages of the simulators: the consent form and the error page an authorize
 * request that cannot be redirected gets. No scripts, no external assets.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AuthorizeRequest } from './authorize';
import { NO_STORE, send } from './http';

const PAGE_STYLE = `
  *{box-sizing:border-box}
  body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#111827}
  main{max-width:32rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.75rem;box-shadow:0 1px 3px #0002}
  h1{font-size:1.4rem;margin:0 0 1rem}
  code{background:#f3f4f6;padding:.1rem .3rem;border-radius:.25rem;word-break:break-all}
  label{display:block;font-weight:600;margin:1rem 0 .25rem}
  input[type=text]{width:100%;padding:.6rem;font:inherit;border:1px solid #9ca3af;border-radius:.4rem}
  .actions{display:flex;gap:.75rem;margin-top:1.25rem;flex-wrap:wrap}
  button{flex:1 1 8rem;padding:.7rem 1rem;font:inherit;font-weight:600;border-radius:.4rem;border:1px solid #1f2937;cursor:pointer}
  button[value=allow]{background:#1f2937;color:#fff}
  button[value=deny]{background:#fff;color:#1f2937}
  .error{color:#991b1b;background:#fee2e2;padding:.5rem .75rem;border-radius:.4rem}
  .note{color:#4b5563;font-size:.875rem}
  @media (max-width:30rem){main{margin:0;border-radius:0;min-height:100vh}}
`;

const PAGE_HEADERS: OutgoingHttpHeaders = {
  ...NO_STORE,
  // The page has no scripts or external assets; inline CSS is the only thing it needs.
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** `title` and `bodyHtml` are trusted markup; callers escape what they interpolate. */
function page(title: string, bodyHtml: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<main>
${bodyHtml}
</main>
</body>
</html>
`;
}

export function sendPage(res: ServerResponse, status: number, html: string): void {
  send(res, status, 'text/html; charset=utf-8', html, PAGE_HEADERS);
}

/** How a provider's consent page names itself and the account the person picks. */
export interface ConsentCopy {
  /** e.g. 'Lightspeed Retail X-Series', in the pages' notes. */
  productName: string;
  /** The heading and title, e.g. 'Connect to Lightspeed Retail'. */
  title: string;
  /** The account field's form name and label; `fixed`: known before consent (Shopify's shop), shown, not typed. */
  field: { name: string; label: string; fixed?: boolean };
}

const LIGHTSPEED_X_COPY: ConsentCopy = {
  productName: 'Lightspeed Retail X-Series',
  title: 'Connect to Lightspeed Retail',
  field: { name: 'domain_prefix', label: 'Store domain prefix' },
};

export function sendErrorPage(
  res: ServerResponse,
  message: string,
  copy: ConsentCopy = LIGHTSPEED_X_COPY,
): void {
  sendPage(
    res,
    400,
    page(
      'Authorization error',
      `<h1>Authorization error</h1>\n<p class="error" role="alert">${escapeHtml(message)}</p>\n` +
        `<p class="note">Simulated ${escapeHtml(copy.productName)}. The request was not redirected.</p>`,
    ),
  );
}

/** The consent form posting to `action`, the account field prefilled, with `error` beside it. */
export function consentPage(
  action: string,
  request: AuthorizeRequest,
  account: string,
  error?: string,
  copy: ConsentCopy = LIGHTSPEED_X_COPY,
  extraHidden: Record<string, string> = {},
): string {
  const hidden = (name: string, value: string) =>
    `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
  const named = request.scope.split(' ').filter((scope) => scope !== '');
  const scopes =
    named.length === 0
      ? "<li>the permissions set in the application's settings</li>"
      : named.map((scope) => `<li><code>${escapeHtml(scope)}</code></li>`).join('');
  const errorId = `${copy.field.name.replace(/_/g, '-')}-error`;
  const alert =
    error === undefined ? '' : `<p class="error" id="${errorId}" role="alert">${escapeHtml(error)}</p>`;
  const describedBy = error === undefined ? '' : ` aria-describedby="${errorId}" aria-invalid="true"`;
  const { name, label } = copy.field;
  const accountInput = copy.field.fixed
    ? `<p>${escapeHtml(label)}: <code>${escapeHtml(account)}</code></p>\n${hidden(name, account)}`
    : `<label for="${name}">${escapeHtml(label)}</label>
<input type="text" id="${name}" name="${name}" value="${escapeHtml(account)}" required
 maxlength="63" autocapitalize="none" autocomplete="off" spellcheck="false"${describedBy}>`;
  const extra = Object.entries(extraHidden)
    .map(([field, value]) => `${hidden(field, value)}\n`)
    .join('');
  return page(
    escapeHtml(copy.title),
    `<h1>${escapeHtml(copy.title)}</h1>
<p>The application <code>${escapeHtml(request.clientId)}</code> asks for access to your store:</p>
<ul>${scopes}</ul>
<form method="post" action="${escapeHtml(action)}">
${hidden('response_type', 'code')}
${hidden('client_id', request.clientId)}
${hidden('redirect_uri', request.redirectUri)}
${hidden('state', request.state)}
${hidden('scope', request.scope)}
${extra}${request.codeChallenge === undefined ? '' : `${hidden('code_challenge', request.codeChallenge)}\n${hidden('code_challenge_method', 'S256')}\n`}${accountInput}
${alert}
<div class="actions">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</div>
</form>
<p class="note">Simulated ${escapeHtml(copy.productName)}: no real store is involved.</p>`,
  );
}
