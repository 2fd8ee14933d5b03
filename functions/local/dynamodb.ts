/**
 * The embedded DynamoDB: dynalite speaks the real wire protocol (conditional writes, GSIs,
 * ConsumedCapacity), so the adapter that ships is the one under test. Persisted in a LevelDB
 * folder, so connections survive a restart.
 *
 * Guards around LevelDB: its logs are checked before opening (leveldb-log.ts); writes are refused
 * while the disk is nearly full, so that LevelDB never meets a full disk; and a write that fails
 * anyway fences further writes. Both answer DynamoDB's InternalServerError, where dynalite would
 * throw the failure out of a callback and end the process.
 */
import { cp, statfs } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import type dynaliteType from 'dynalite';
import { TABLE } from '../../shared/adapters/dynamodb/schema';
import { checkLevelDbLogs } from './leveldb-log';

/** What the runtime hears about the embedded store's state. */
export interface EmbeddedDynamoDbOptions {
  /** Changes of the store's writability: low on space, space back, a failed write. */
  readonly log?: (level: 'error' | 'warn' | 'info', message: string) => void;
  /** Opens a store whose log is damaged after copying it aside; LevelDB drops the damaged records. */
  readonly salvage?: boolean;
  /**
   * Writes are refused while less than this is free on the folder's file system, so that LevelDB
   * itself never meets a full disk. Default: 5 % of the file system, at most 64 MiB.
   */
  readonly reserveBytes?: number;
}

const MAX_RESERVE_BYTES = 64 * 1024 * 1024;

/** The embedded store cannot be opened; the message names the folder or file and what to do. */
export class EmbeddedStoreError extends Error {
  override readonly name: string = 'EmbeddedStoreError';
}

/** Thrown when the embedded store's files are damaged. */
export class EmbeddedStoreDamagedError extends EmbeddedStoreError {
  override readonly name = 'EmbeddedStoreDamagedError';
}

interface LevelWrites {
  get(...args: unknown[]): Promise<unknown>;
  put(...args: unknown[]): Promise<unknown>;
  del(...args: unknown[]): Promise<unknown>;
  batch(...args: unknown[]): unknown;
  open(): Promise<void>;
  readonly location: string;
}
type LevelClass = new (location: string, options?: unknown) => LevelWrites;

/** The LevelDB dynalite opened on each folder, so that a start can wait for it to open. */
const levels = new Map<string, LevelWrites>();

/** Per LevelDB folder: its reserve, whether it is short of it, and the first failed write. */
interface WriteGuard {
  readonly reserveBytes: number | undefined;
  readonly log: NonNullable<EmbeddedDynamoDbOptions['log']>;
  low: boolean;
  failure?: string;
}
const writeGuards = new Map<string, WriteGuard>();

/** Undefined when there is room for a write, else why not (said once when it starts). */
async function spaceProblem(location: string, guard: WriteGuard): Promise<string | undefined> {
  const { bavail, blocks, bsize } = await statfs(location);
  const reserve = guard.reserveBytes ?? Math.min(MAX_RESERVE_BYTES, Math.floor(blocks * bsize * 0.05));
  const low = bavail * bsize < reserve;
  if (low !== guard.low) {
    guard.low = low;
    if (low)
      guard.log(
        'error',
        `the embedded DynamoDB in ${location} is low on disk space (less than ${reserve} bytes free): ` +
          'writes are refused until space is freed; reads go on',
      );
    else guard.log('info', `the embedded DynamoDB in ${location} has disk space again: writes resume`);
  }
  return low
    ? `the embedded DynamoDB in ${location} is low on disk space; writes resume when space is freed`
    : undefined;
}

/** A DynamoDB InternalServerError as dynalite answers an error that carries `statusCode` and `body`. */
function internalServerError(message: string): Error {
  return Object.assign(new Error(message), {
    statusCode: 500,
    body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message },
  });
}

/**
 * dynalite, loaded after its LevelDB class is replaced by one that guards writes. After a failed
 * write, LevelDB's log may end in a partial record; a later write appended behind it would be lost
 * at the next start (the reader drops the rest of the block). So the first failure fences writes
 * until a restart, which recovers the log up to the last complete record: every acknowledged write.
 */
const dynalite: typeof dynaliteType = (() => {
  const require = createRequire(import.meta.url);
  const fromDynalite = createRequire(require.resolve('dynalite'));
  // dynalite takes the class when its db module loads: loaded before this, it would be unguarded.
  if (require.cache[fromDynalite.resolve('./db')] !== undefined)
    throw new Error(
      'dynalite was loaded before functions/local/dynamodb.ts: import dynalite only through it',
    );
  const level = fromDynalite('level') as { Level: LevelClass };
  const Base = level.Level;
  class GuardedLevel extends Base {
    constructor(location: string, options?: unknown) {
      super(location, options);
      levels.set(resolve(location), this);
    }
    private async guard<T>(write: () => Promise<T>): Promise<T> {
      const guard = writeGuards.get(resolve(this.location));
      if (guard === undefined) return write();
      if (guard.failure !== undefined) throw internalServerError(guard.failure);
      // Any error thrown here must carry dynalite's shape, or dynalite rethrows it and the process ends.
      const short = await spaceProblem(this.location, guard).catch(
        (error: unknown) =>
          `the embedded DynamoDB cannot check the free space in ${this.location} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
      if (short !== undefined) throw internalServerError(short);
      try {
        return await write();
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const failure =
          `the embedded DynamoDB in ${this.location} could not write (${code ?? 'error'}: ` +
          `${(error as Error).message}); writes are refused until the broker restarts. Free disk ` +
          'space, then restart it: everything acknowledged before is kept';
        if (guard.failure === undefined) {
          guard.failure = failure;
          guard.log('error', failure);
        }
        throw internalServerError(failure);
      }
    }
    /** A read that fails (a damaged table file) is a 500 for that request, not the end of the process. */
    override async get(...args: unknown[]) {
      try {
        return await super.get(...args);
      } catch (error) {
        throw internalServerError(
          `the embedded DynamoDB in ${this.location} could not read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
    }
    override put(...args: unknown[]) {
      return this.guard(() => super.put(...args));
    }
    override del(...args: unknown[]) {
      return this.guard(() => super.del(...args));
    }
    override batch(...args: unknown[]) {
      // Without arguments it is a chained batch, which dynalite does not use.
      if (args.length === 0) return super.batch();
      return this.guard(() => super.batch(...args) as Promise<unknown>);
    }
  }
  level.Level = GuardedLevel;
  return (require('dynalite') as { default?: typeof dynaliteType }).default ?? require('dynalite');
})();

export interface EmbeddedDynamoDb {
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Starts dynalite on 127.0.0.1; `path` persists it, undefined keeps it in memory. */
export async function startEmbeddedDynamoDb(
  path: string | undefined,
  port = 0,
  options: EmbeddedDynamoDbOptions = {},
): Promise<EmbeddedDynamoDb> {
  if (path !== undefined) {
    await refuseDamagedLogs(path, options.salvage === true);
    writeGuards.set(resolve(path), {
      reserveBytes: options.reserveBytes,
      log: options.log ?? (() => undefined),
      low: false,
    });
  }
  const server: Server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  if (path !== undefined) await opened(path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${actual}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Opening a damaged log would drop records silently (leveldb-log.ts), so the start stops here; with
 * `salvage` the folder is first copied aside, then opened, and LevelDB drops what it cannot read.
 */
async function refuseDamagedLogs(path: string, salvage: boolean): Promise<void> {
  const damage = await checkLevelDbLogs(path);
  if (damage === undefined) return;
  const what = `${damage.file} is damaged (${damage.problem} at byte ${damage.offset})`;
  if (!salvage) {
    throw new EmbeddedStoreDamagedError(
      `the embedded DynamoDB cannot be opened without losing data: ${what}. Opening it would silently ` +
        `drop the records from there to the end of their 32 KiB block (connections, sessions). Nothing ` +
        `has been changed. Restore ${path} from a backup; or, to keep what can be read, start once with ` +
        `${SALVAGE_ENV}=1 (the folder is copied aside first) and connect the lost stores again`,
    );
  }
  const copy = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await cp(path, copy, { recursive: true, errorOnExist: true, force: false });
  process.stderr.write(
    `${what}. ${SALVAGE_ENV} is set: the folder was copied to ${copy}, and the records LevelDB cannot ` +
      'read are dropped now. Connections among them must be made again.\n',
  );
}

/**
 * Waits for dynalite's LevelDB to open. dynalite opens it lazily and throws the failure out of its
 * first request (ending the process); here it becomes a message at start.
 */
async function opened(path: string): Promise<void> {
  try {
    await levels.get(resolve(path))?.open();
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new EmbeddedStoreError(
        `the embedded DynamoDB in ${path} is in use by another broker process (LevelDB allows one). ` +
          'Stop that one, or give this one its own BROKER_DATA_DIR; brokers that share data run on one ' +
          'DynamoDB: start it with DYNAMODB_ENDPOINT set in each (the README shows how)',
      );
    }
    throw new EmbeddedStoreError(
      `the embedded DynamoDB in ${path} cannot be opened (${cause?.code ?? (error as Error).message}` +
        `${cause?.message === undefined ? '' : `: ${cause.message}`}). Nothing has been changed; restore ` +
        'the folder from a backup',
    );
  }
}

/** The variable that opens a damaged embedded store anyway (documented in the README). */
export const SALVAGE_ENV = 'BROKER_SALVAGE_DAMAGED_STORE';

/** Local credentials for a DynamoDB-compatible endpoint that does not check them. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** Creates the broker's table (the same key schema and indexes as the CDK stack) unless it exists. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return await tableActive(client, tableName);
  } catch (error) {
    if (
      !(error instanceof ResourceNotFoundException) &&
      (error as Error).name !== 'ResourceNotFoundException'
    )
      throw error;
  }
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: TABLE.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE.sortKey, AttributeType: 'S' },
          { AttributeName: TABLE.sweepIndex.partitionKey, AttributeType: 'N' },
          { AttributeName: TABLE.sweepIndex.sortKey, AttributeType: 'N' },
          { AttributeName: TABLE.providerIndex.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE.providerIndex.sortKey, AttributeType: 'S' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: TABLE.sweepIndex.name,
            KeySchema: [
              { AttributeName: TABLE.sweepIndex.partitionKey, KeyType: 'HASH' },
              { AttributeName: TABLE.sweepIndex.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: TABLE.sweepIndex.projection },
          },
          {
            IndexName: TABLE.providerIndex.name,
            KeySchema: [
              { AttributeName: TABLE.providerIndex.partitionKey, KeyType: 'HASH' },
              { AttributeName: TABLE.providerIndex.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: TABLE.providerIndex.projection },
          },
        ],
      }),
    );
  } catch (error) {
    // Another process sharing the endpoint created it first.
    if (!(error instanceof ResourceInUseException) && (error as Error).name !== 'ResourceInUseException')
      throw error;
  }
  await tableActive(client, tableName);
}

/**
 * Waits until the table is ACTIVE: dynalite answers CreateTable with CREATING and flips the status
 * a moment later, and a write before that is refused (the SDK's waiter polls every 20 s at least).
 */
async function tableActive(client: DynamoDBClient, tableName: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (attempt >= 500) throw new Error(`the table ${tableName} is still ${Table?.TableStatus} after 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
