/**
 * The single table's key schema and indexes, read by the DynamoDB adapter, the local runtime (which
 * creates the table in dynalite) and the CDK stack, so all three agree.
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB TTL removes expired connect sessions and OAuth states. */
  ttlAttribute: 'ttl',
  /**
   * Sparse index of active OAuth connections only: partition key a small shard number, sort key
   * the access token's expiry (epoch ms). The sweep queries `sweepAt < now + margin` per shard, so
   * its cost follows the tokens due, not the number of retailers.
   */
  sweepIndex: { name: 'sweep', partitionKey: 'sweepShard', sortKey: 'sweepAt', projection: 'KEYS_ONLY' },
  /** Every connection by provider, for listing without a Scan. */
  providerIndex: {
    name: 'by-provider',
    partitionKey: 'gsiProvider',
    sortKey: 'gsiAccount',
    projection: 'ALL',
  },
  /** Shards of the sweep index; a power of two keeps the hash spread even. */
  sweepShards: 4,
} as const;

/** The sweep index shard of a connection item: FNV-1a of its `pk`, stable across processes. */
export function sweepShardOf(pk: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < pk.length; i++) {
    hash ^= pk.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % TABLE.sweepShards;
}
