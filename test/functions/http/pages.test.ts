import { describe, expect, it } from 'vitest';
import { pages, renderPage } from '../../../functions/http/pages';

const PROVIDER = 'Lightspeed Retail X-Series';
const ACCOUNT = 'demo-store';

/** Every page, rendered with the same arguments (pages that take fewer ignore the rest). */
const rendered = Object.entries(pages).map(
  ([name, render]) => [name, (render as (...args: string[]) => string)(PROVIDER, ACCOUNT)] as const,
);

describe('pages', () => {
  it('has the pages the connect flow needs', () => {
    expect(Object.keys(pages).sort()).toEqual([
      'connected',
      'declined',
      'expired',
      'failed',
      'invalid',
      'unavailable',
    ]);
  });

  describe.each(rendered)('the %s page', (_, html) => {
    it('is an English HTML5 document', () => {
      expect(html.startsWith('<!doctype html>')).toBe(true);
      expect(html).toContain('<html lang="en">');
      expect(html).toContain('<meta charset="utf-8">');
    });

    it('has a viewport meta for phones', () => {
      expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    });

    it('has a title and a heading', () => {
      expect(html).toMatch(/<title>[^<]+<\/title>/);
      expect(html).toMatch(/<h1>[^<]+<\/h1>/);
    });

    it('runs no script', () => {
      expect(html).not.toMatch(/<script/i);
      expect(html).not.toMatch(/\son[a-z]+\s*=/i);
      expect(html).not.toMatch(/javascript:/i);
    });

    it('loads nothing from elsewhere', () => {
      expect(html).not.toMatch(/https?:\/\//i);
      expect(html).not.toMatch(/<(link|img|iframe|object|embed|source|video|audio)\b/i);
      expect(html).not.toMatch(/@import|url\(/i);
    });

    it('sends no referrer', () => {
      expect(html).toContain('<meta name="referrer" content="no-referrer">');
    });
  });

  it('names the account on the connected page', () => {
    // Act
    const html = pages.connected(PROVIDER, ACCOUNT);

    // Assess
    expect(html).toContain(`<p>${PROVIDER} store &quot;${ACCOUNT}&quot; is now connected.</p>`);
  });

  it('escapes HTML in the account name', () => {
    // Prepare
    const account = '<img src=x onerror=alert(1)>&"\'';

    // Act
    const html = pages.connected(PROVIDER, account);

    // Assess
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#39;');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('onerror=alert(1)>');
  });

  it.each([
    ['declined', pages.declined],
    ['failed', pages.failed],
  ])('escapes HTML in the provider name on the %s page', (_, render) => {
    // Act
    const html = render('<script>alert(1)</script>');

    // Assess
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('escapes the title of a rendered page', () => {
    // Act
    const html = renderPage({ title: '</title><script>x</script>', tone: 'info', lines: [] });

    // Assess
    expect(html).toContain('<title>&lt;/title&gt;&lt;script&gt;x&lt;/script&gt;</title>');
    expect(html).not.toMatch(/<script/i);
  });
});
