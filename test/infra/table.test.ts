import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE } from '../../shared/adapters/dynamodb/schema';
import { type Json, type Resource, type Synth, synthBroker } from './support';

let synth: Synth;
let table: Resource;
let tableKeyId: string;

beforeAll(() => {
  synth = synthBroker();
  const tables = Object.values(synth.template.findResources('AWS::DynamoDB::Table')) as Resource[];
  expect(tables).toHaveLength(1);
  table = tables[0]!;
  tableKeyId = synth.stack.getLogicalId(synth.stack.broker.tableKey.node.defaultChild as never);
});

describe('DynamoDB table', () => {
  it('is on-demand with point-in-time recovery and deletion protection', () => {
    expect(table.Properties?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.Properties?.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties?.DeletionProtectionEnabled).toBe(true);
  });

  it('is retained when the stack is deleted or the table replaced', () => {
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
  });

  it('is encrypted with its own customer-managed key, which rotates and is retained with the table', () => {
    expect(table.Properties?.SSESpecification).toEqual({
      SSEEnabled: true,
      SSEType: 'KMS',
      KMSMasterKeyId: { 'Fn::GetAtt': [tableKeyId, 'Arn'] },
    });
    const key = synth.template.toJSON().Resources[tableKeyId] as Resource;
    expect(key.Type).toBe('AWS::KMS::Key');
    expect(key.Properties?.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
  });

  it('expires connect sessions and OAuth states through the TTL attribute of the schema', () => {
    expect(table.Properties?.TimeToLiveSpecification).toEqual({
      AttributeName: TABLE.ttlAttribute,
      Enabled: true,
    });
  });

  it('has the key schema of shared/adapters/dynamodb/schema.ts', () => {
    expect(table.Properties?.KeySchema).toEqual([
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
    ]);
  });

  it('has the sparse sweep index (shard number, expiry) and the provider index, as the schema defines them', () => {
    const attributeType = (name: string) =>
      (
        (table.Properties?.AttributeDefinitions ?? []) as { AttributeName: string; AttributeType: string }[]
      ).find((definition) => definition.AttributeName === name)?.AttributeType;
    const indexes = table.Properties?.GlobalSecondaryIndexes as Record<string, Json>[];
    expect(indexes).toHaveLength(2);
    for (const [spec, types] of [
      [TABLE.sweepIndex, ['N', 'N']],
      [TABLE.providerIndex, ['S', 'S']],
    ] as const) {
      expect(indexes).toContainEqual({
        IndexName: spec.name,
        KeySchema: [
          { AttributeName: spec.partitionKey, KeyType: 'HASH' },
          { AttributeName: spec.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: spec.projection },
      });
      expect([attributeType(spec.partitionKey), attributeType(spec.sortKey)]).toEqual(types);
    }
  });
});
