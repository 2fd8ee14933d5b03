/**
 * A check of the embedded DynamoDB's LevelDB logs before they are opened. LevelDB (as classic-level
 * builds it, without `paranoid_checks`) recovers a log record with a bad checksum by dropping it and
 * the rest of its 32 KiB block, writes what is left to a table and deletes the log: flipped bytes
 * in `000123.log` silently cost every write after them in that block. So the files are read here
 * first, with LevelDB's own rules (leveldb/doc/log_format.md, leveldb/db/log_reader.cc), and a
 * damaged one stops the start instead.
 */

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '@aws-crypto/crc32c';

const BLOCK_SIZE = 32_768;
const HEADER_SIZE = 7;
const MASK_DELTA = 0xa282ead8;
enum RecordType {
  Zero = 0,
  Full = 1,
  First = 2,
  Middle = 3,
  Last = 4,
}

/** Where a log file is damaged: the byte offset of the bad record and what is wrong with it. */
export interface LogDamage {
  readonly file: string;
  readonly offset: number;
  readonly problem: string;
}

/** LevelDB stores CRCs masked, so that a CRC of data that holds CRCs stays well distributed. */
function unmask(masked: number): number {
  const rotated = (masked - MASK_DELTA) >>> 0;
  return ((rotated >>> 17) | (rotated << 15)) >>> 0;
}

/**
 * The first record LevelDB's reader would drop from this log's bytes, or undefined. A record cut
 * short at the very end of the file is not damage: that is a write a crash interrupted, which was
 * never acknowledged, and the reader treats it as the end of the log.
 */
export function findLogDamage(bytes: Buffer, file: string): LogDamage | undefined {
  let inFragment = false;
  for (let block = 0; block < bytes.length; block += BLOCK_SIZE) {
    const end = Math.min(block + BLOCK_SIZE, bytes.length);
    const lastBlock = end === bytes.length;
    let at = block;
    while (end - at >= HEADER_SIZE) {
      const length = bytes.readUInt16LE(at + 4);
      const type = bytes[at + 6] as number;
      const damaged = (problem: string): LogDamage => ({ file, offset: at, problem });
      // Preallocated space: the reader skips the rest of the block without dropping anything.
      if (type === RecordType.Zero && length === 0) break;
      if (at + HEADER_SIZE + length > end) {
        if (lastBlock) return undefined;
        return damaged('a record runs past the end of its block');
      }
      const stored = unmask(bytes.readUInt32LE(at));
      if (crc32c(bytes.subarray(at + 6, at + HEADER_SIZE + length)) >>> 0 !== stored)
        return damaged('checksum mismatch');
      switch (type) {
        case RecordType.Full:
          if (inFragment) return damaged('a record starts inside another one');
          break;
        case RecordType.First:
          if (inFragment) return damaged('a record starts inside another one');
          inFragment = true;
          break;
        case RecordType.Middle:
        case RecordType.Last:
          if (!inFragment) return damaged('the middle or end of a record without its start');
          inFragment = type === RecordType.Middle;
          break;
        default:
          return damaged(`unknown record type ${type}`);
      }
      at += HEADER_SIZE + length;
    }
  }
  return undefined;
}

/** Checks the write-ahead logs (`*.log`) and the current MANIFEST of a LevelDB folder. */
export async function checkLevelDbLogs(dir: string): Promise<LogDamage | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const current = names.includes('CURRENT') ? (await readFile(join(dir, 'CURRENT'), 'utf8')).trim() : '';
  const logs = names.filter((name) => /^\d+\.log$/.test(name) || name === current).sort();
  for (const name of logs) {
    const file = join(dir, name);
    const damage = findLogDamage(await readFile(file), file);
    if (damage !== undefined) return damage;
  }
  return undefined;
}
