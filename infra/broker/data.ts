/** The broker's state: the DynamoDB table and the customer-managed key that encrypts it and the tokens. */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { TABLE } from '../../shared/adapters/dynamodb/schema';

export interface BrokerData {
  readonly table: Table;
  readonly tableKey: Key;
}

/**
 * Creates the key and the table directly in `scope` (not in a construct of their own): both are
 * retained, and a new construct path would give them new logical ids, i.e. new resources.
 */
export function createData(scope: Construct): BrokerData {
  const stack = Stack.of(scope);
  const tableKey = new Key(scope, 'TableKey', {
    description: `Token broker ${stack.stackName}: DynamoDB table and token envelope encryption`,
    enableKeyRotation: true,
    // The retained table stays readable only as long as its key exists.
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const table = new Table(scope, 'Table', {
    partitionKey: { name: TABLE.partitionKey, type: AttributeType.STRING },
    sortKey: { name: TABLE.sortKey, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: true,
    removalPolicy: RemovalPolicy.RETAIN,
    encryption: TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: tableKey,
    timeToLiveAttribute: TABLE.ttlAttribute,
  });
  // Sparse: only active OAuth connections carry the sweep attributes (shard number, expiry in epoch ms).
  table.addGlobalSecondaryIndex({
    indexName: TABLE.sweepIndex.name,
    partitionKey: { name: TABLE.sweepIndex.partitionKey, type: AttributeType.NUMBER },
    sortKey: { name: TABLE.sweepIndex.sortKey, type: AttributeType.NUMBER },
    // Keys only: the sweep re-reads each due connection consistently, and no token is copied.
    projectionType: ProjectionType[TABLE.sweepIndex.projection],
  });
  table.addGlobalSecondaryIndex({
    indexName: TABLE.providerIndex.name,
    partitionKey: { name: TABLE.providerIndex.partitionKey, type: AttributeType.STRING },
    sortKey: { name: TABLE.providerIndex.sortKey, type: AttributeType.STRING },
    projectionType: ProjectionType[TABLE.providerIndex.projection],
  });
  return { table, tableKey };
}
