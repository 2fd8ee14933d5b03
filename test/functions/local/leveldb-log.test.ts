/** The LevelDB log check against logs built here by LevelDB's format (doc/log_format.md). */
import { crc32c } from '@aws-crypto/crc32c';
import { describe, expect, it } from 'vitest';
import { findLogDamage } from '../../../functions/local/leveldb-log';

const BLOCK = 32_768;

function mask(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One physical record: masked CRC of type and data, length, type, data. */
function record(type: number, data: Buffer): Buffer {
  const header = Buffer.alloc(7);
  header.writeUInt32LE(mask(crc32c(Buffer.concat([Buffer.from([type]), data])) >>> 0), 0);
  header.writeUInt16LE(data.length, 4);
  header[6] = type;
  return Buffer.concat([header, data]);
}

/** A log of logical records as LevelDB's writer lays them out: fragments across blocks, zero trailers. */
function log(payloads: Buffer[]): Buffer {
  const out: Buffer[] = [];
  let offset = 0;
  for (const payload of payloads) {
    let rest = payload;
    let first = true;
    do {
      const left = BLOCK - offset;
      if (left < 7) {
        out.push(Buffer.alloc(left));
        offset = 0;
      }
      const room = BLOCK - offset - 7;
      const piece = rest.subarray(0, room);
      rest = rest.subarray(piece.length);
      const type = first && rest.length === 0 ? 1 : first ? 2 : rest.length === 0 ? 4 : 3;
      out.push(record(type, piece));
      offset = (offset + 7 + piece.length) % BLOCK;
      first = false;
    } while (rest.length > 0);
  }
  return Buffer.concat(out);
}

const payloads = Array.from({ length: 60 }, (_, i) => Buffer.alloc(1_500 + i * 97, i + 1));

describe('findLogDamage', () => {
  it('accepts an intact log with records split across blocks', () => {
    const bytes = log([...payloads, Buffer.alloc(70_000, 7)]);
    expect(bytes.length).toBeGreaterThan(3 * BLOCK);
    expect(findLogDamage(bytes, 'x.log')).toBeUndefined();
  });

  it('accepts a log whose last record a crash cut short (never acknowledged)', () => {
    const bytes = log(payloads);
    expect(findLogDamage(bytes.subarray(0, bytes.length - 100), 'x.log')).toBeUndefined();
    expect(findLogDamage(bytes.subarray(0, bytes.length - 1_600 + 3), 'x.log')).toBeUndefined();
  });

  it('reports a flipped byte as a checksum mismatch at the record that holds it', () => {
    const bytes = log(payloads);
    bytes[10_000] = (bytes[10_000] as number) ^ 1;
    const damage = findLogDamage(bytes, '/data/000003.log');
    expect(damage?.file).toBe('/data/000003.log');
    expect(damage?.problem).toBe('checksum mismatch');
    expect(damage?.offset).toBeLessThanOrEqual(10_000);
    expect(damage?.offset).toBeGreaterThan(10_000 - 7 - 1_500 - 60 * 97);
  });

  it('reports a length that runs past its block when the file goes on', () => {
    const bytes = log(payloads);
    bytes.writeUInt16LE(0xffff, 4);
    expect(findLogDamage(bytes, 'x.log')?.problem).toBe('a record runs past the end of its block');
  });

  it('reports the end of a record without its start', () => {
    const bytes = Buffer.concat([record(1, Buffer.from('a')), record(4, Buffer.from('b'))]);
    expect(findLogDamage(bytes, 'x.log')?.problem).toBe('the middle or end of a record without its start');
  });
});
