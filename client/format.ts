/** Human output of the CLI: aligned tables and `key  value` lines. */

/** Columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `key  value` lines with the values aligned; undefined values are left out. */
export function fields(entries: readonly (readonly [string, string | undefined])[]): string {
  const shown = entries.filter((entry): entry is [string, string] => entry[1] !== undefined);
  const width = Math.max(0, ...shown.map(([key]) => key.length));
  return shown.map(([key, value]) => `${key.padEnd(width)}  ${value}`).join('\n');
}

/** `2026-11-24T19:17:22.911Z (in 23h 59m)`, `… (3m ago)`, or `never`. */
export function when(iso: string | null | undefined, now: number, none = 'never'): string {
  if (iso === null || iso === undefined) return none;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const delta = at - now;
  return `${iso} (${delta >= 0 ? `in ${duration(delta)}` : `${duration(-delta)} ago`})`;
}

/** `45s`, `9m 59s`, `3h 5m`, `29d 4h`. */
export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
