/**
 * The connection store's queries on the two indexes: the admin listing (by-provider index) and the
 * sweep's due credentials and app counts (the sparse sweep index).
 *
 * The listing's status filter is `connectionStatus()` itself, applied to each item read, not a
 * FilterExpression restating it: a status depends on the time of the request, so it is not stored,
 * and DynamoDB's FilterExpression would save no read (Query's Limit, its 1 MB page and the read
 * capacity all count items before the filter). Filtering here reads the same items and returns the
 * same pages, at the cost of transferring the non-matching items, with one rule in one language.
 */
import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import {
  type ConnectionKey,
  type CredentialSource,
  connectionStatus,
  type OAuthRecord,
  type PersonalConnection,
  PROVIDER_IDS,
  type ProviderId,
} from '../../domain/model';
import type { ConnectionPage, ListQuery } from '../../domain/ports';
import { decodeCursor, encodeCursor } from './cursor';
import { connectionPk, dueKeyOf, toConnection } from './items';
import { TABLE } from './schema';

/** Queries of connection items; extended by the connection store. */
export class ConnectionQueries {
  constructor(
    protected readonly client: DynamoDBDocumentClient,
    protected readonly tableName: string,
  ) {}

  /**
   * Counted on the sparse, keys-only sweep index, which holds exactly the active OAuth connections
   * (and personal tokens nearing expiry, filtered out here): a few bytes per store instead of whole
   * items, so a listing stays cheap however many stores there are. A connection marked
   * reauthorization_required has left the index: its store most likely disconnected the app.
   */
  async countOAuthConnections(provider: ProviderId) {
    const counts = await Promise.all(
      Array.from({ length: TABLE.sweepShards }, async (_, shard) => {
        let count = 0;
        const pages = this.sweepIndexPages(shard, {
          FilterExpression: '#sk = :oauth AND begins_with(#pk, :prefix)',
          ExpressionAttributeNames: { '#sk': 'sk', '#pk': 'pk' },
          ExpressionAttributeValues: {
            ':oauth': 'oauth',
            ':prefix': connectionPk({ provider, account: '' }),
          },
          Select: 'COUNT',
        });
        for await (const page of pages) count += page.Count ?? 0;
        return count;
      }),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /** Every page of a query of one shard of the sweep index; `extra` adds conditions and names. */
  protected async *sweepIndexPages(
    shard: number,
    extra: {
      readonly sortKeyCondition?: string;
      readonly FilterExpression?: string;
      readonly ExpressionAttributeNames?: Record<string, string>;
      readonly ExpressionAttributeValues?: Record<string, unknown>;
      readonly Select?: 'COUNT';
    },
  ) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TABLE.sweepIndex.name,
          KeyConditionExpression: `#shard = :shard${extra.sortKeyCondition === undefined ? '' : ` AND ${extra.sortKeyCondition}`}`,
          ...(extra.FilterExpression === undefined ? {} : { FilterExpression: extra.FilterExpression }),
          ExpressionAttributeNames: {
            '#shard': TABLE.sweepIndex.partitionKey,
            ...extra.ExpressionAttributeNames,
          },
          ExpressionAttributeValues: { ':shard': shard, ...extra.ExpressionAttributeValues },
          ...(extra.Select === undefined ? {} : { Select: extra.Select }),
          ExclusiveStartKey: startKey,
        }),
      );
      yield result;
      startKey = result.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  async list(query: ListQuery): Promise<ConnectionPage> {
    const partitions = query.provider === undefined ? PROVIDER_IDS : [query.provider];
    const cursor = query.cursor === undefined ? { p: 0 } : decodeCursor(query.cursor, partitions);
    const items: (OAuthRecord | PersonalConnection)[] = [];
    let p = cursor.p;
    let startKey = cursor.k;
    while (p < partitions.length && items.length < query.limit) {
      const input: QueryCommandInput = {
        TableName: this.tableName,
        IndexName: TABLE.providerIndex.name,
        KeyConditionExpression: '#gp = :gp',
        ExpressionAttributeNames: { '#gp': TABLE.providerIndex.partitionKey },
        ExpressionAttributeValues: { ':gp': partitions[p] },
        // Limit counts items read, matching or not, so a page never overshoots.
        Limit: query.limit - items.length,
        ExclusiveStartKey: startKey,
      };
      const result = await this.client.send(new QueryCommand(input));
      for (const item of result.Items ?? []) {
        const connection = toConnection(item);
        if (query.status === undefined || connectionStatus(connection, query.now) === query.status) {
          items.push(connection);
        }
      }
      startKey = result.LastEvaluatedKey;
      if (startKey === undefined) p++;
    }
    const more = p < partitions.length;
    return { items, nextCursor: more ? encodeCursor({ p, k: startKey }) : undefined };
  }

  async *findDue(before: number): AsyncIterable<ConnectionKey & { source: CredentialSource }> {
    for (let shard = 0; shard < TABLE.sweepShards; shard++) {
      const pages = this.sweepIndexPages(shard, {
        sortKeyCondition: '#at < :before',
        ExpressionAttributeNames: { '#at': TABLE.sweepIndex.sortKey },
        ExpressionAttributeValues: { ':before': before },
      });
      for await (const page of pages) {
        for (const item of page.Items ?? []) {
          const due = dueKeyOf(item);
          if (due !== undefined) yield due;
        }
      }
    }
  }
}
