/**
 * Counts DynamoDB requests and the capacity they consume, as DynamoDB (here dynalite) reports it:
 * a middleware on the client's stack asks every request for `ReturnConsumedCapacity: 'TOTAL'` and
 * adds up `ConsumedCapacity.CapacityUnits`. Document clients built on the client are counted too.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const READ_COMMANDS = new Set([
  'GetItemCommand',
  'GetCommand',
  'QueryCommand',
  'ScanCommand',
  'BatchGetItemCommand',
  'BatchGetCommand',
  'TransactGetItemsCommand',
  'TransactGetCommand',
]);

export interface CapacityMeter {
  readonly readUnits: number;
  readonly writeUnits: number;
  readonly requests: number;
  /** Requests and capacity units per command name. */
  readonly byCommand: Readonly<Record<string, { requests: number; units: number }>>;
  reset(): void;
}

interface ConsumedCapacity {
  CapacityUnits?: number;
}

/** Installs the meter on `client` and returns its live totals. */
export function meterCapacity(client: DynamoDBClient): CapacityMeter {
  let byCommand: Record<string, { requests: number; units: number }> = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      (args.input as Record<string, unknown>).ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] })
        .ConsumedCapacity;
      const list = Array.isArray(consumed) ? consumed : consumed === undefined ? [] : [consumed];
      const units = list.reduce((sum, entry) => sum + (entry.CapacityUnits ?? 0), 0);
      const name = String(context.commandName ?? 'unknown');
      const entry = byCommand[name] ?? { requests: 0, units: 0 };
      byCommand[name] = entry;
      entry.requests++;
      entry.units += units;
      return result;
    },
    { step: 'initialize', name: 'benchConsumedCapacity' },
  );
  const sum = (read: boolean) =>
    Object.entries(byCommand)
      .filter(([name]) => READ_COMMANDS.has(name) === read)
      .reduce((total, [, entry]) => total + entry.units, 0);
  return {
    get readUnits() {
      return sum(true);
    },
    get writeUnits() {
      return sum(false);
    },
    get requests() {
      return Object.values(byCommand).reduce((total, entry) => total + entry.requests, 0);
    },
    get byCommand() {
      return structuredClone(byCommand);
    },
    reset() {
      byCommand = {};
    },
  };
}
