/** The update-expression builder the connection store's writes share. */
import type { UpdateCommandInput } from '@aws-sdk/lib-dynamodb';

export type UpdateParts = Pick<
  UpdateCommandInput,
  'UpdateExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
>;

/** Builds `SET a = :a, … REMOVE b, …` from attribute maps; undefined values are removed. */
export function updateExpression(
  set: Record<string, unknown>,
  remove: readonly string[] = [],
  raw: readonly string[] = [],
): UpdateParts {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const assignments: string[] = [...raw];
  const removals: string[] = [];
  for (const [name, value] of Object.entries(set)) {
    names[`#${name}`] = name;
    if (value === undefined) removals.push(`#${name}`);
    else {
      values[`:${name}`] = value;
      assignments.push(`#${name} = :${name}`);
    }
  }
  for (const name of remove) {
    names[`#${name}`] = name;
    removals.push(`#${name}`);
  }
  const parts = [`SET ${assignments.join(', ')}`];
  if (removals.length > 0) parts.push(`REMOVE ${removals.join(', ')}`);
  return {
    UpdateExpression: parts.join(' '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** The attributes of a lease and of the failures of the attempts since the last token write. */
export const LEASE_AND_FAILURE = [
  'leaseOwner',
  'leaseUntil',
  'lastError',
  'lastFailureAt',
  'retryAfterSeconds',
  'unconfirmedAt',
] as const;
