import { describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_SECONDS } from '../../../shared/domain/retry';
import { parseRetryAfter } from '../../../shared/providers/retry-after';

const NOW = Date.parse('2026-05-01T08:00:00Z');

describe('parseRetryAfter', () => {
  it('reads delay seconds', () => {
    // Act
    const seconds = parseRetryAfter('120', NOW);

    // Assess
    expect(seconds).toBe(120);
  });

  it('trims whitespace around delay seconds', () => {
    // Act
    const seconds = parseRetryAfter(' 30 ', NOW);

    // Assess
    expect(seconds).toBe(30);
  });

  it('answers at least one second for a zero delay', () => {
    // Act
    const seconds = parseRetryAfter('0', NOW);

    // Assess
    expect(seconds).toBe(1);
  });

  it('resolves an HTTP date in the future to the seconds from now', () => {
    // Prepare
    const header = new Date(NOW + 90_000).toUTCString();

    // Act
    const seconds = parseRetryAfter(header, NOW);

    // Assess
    expect(header).toBe('Fri, 01 May 2026 08:01:30 GMT');
    expect(seconds).toBe(90);
  });

  it('rounds a partial second of an HTTP date up', () => {
    // Act
    const seconds = parseRetryAfter('Fri, 01 May 2026 08:01:30 GMT', NOW + 400);

    // Assess
    expect(seconds).toBe(90);
  });

  it('answers one second for an HTTP date in the past', () => {
    // Act
    const seconds = parseRetryAfter('Fri, 01 May 2026 07:00:00 GMT', NOW);

    // Assess
    expect(seconds).toBe(1);
  });

  it.each([
    ['a word', 'soon'],
    ['an empty value', ''],
    ['a negative number', '-5'],
    ['digits followed by text', '12abc'],
    ['a date without day or zone names', '2026-05-01 08:01:30'],
  ])('ignores %s', (_, header) => {
    // Act
    const seconds = parseRetryAfter(header, NOW);

    // Assess
    expect(seconds).toBeUndefined();
  });

  it.each([
    ['a year in seconds', '31536000'],
    ['an HTTP date in 2099', 'Thu, 01 Jan 2099 00:00:00 GMT'],
    ['1e23', '1e23'],
    ['24 digits', '100000000000000000000000'],
  ])('clamps %s to 900 whole seconds', (_, header) => {
    expect(parseRetryAfter(header, NOW)).toBe(MAX_RETRY_AFTER_SECONDS);
  });

  it('reads a decimal leniently, rounding up to whole seconds', () => {
    expect(parseRetryAfter('1.5', NOW)).toBe(2);
  });

  it('answers undefined when the header is absent', () => {
    // Act and assess
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
  });
});
