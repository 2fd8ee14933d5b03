/** How the broker's constructs are named: construct ids from names, resources as cdk-nag spells them. */
import type { Stack } from 'aws-cdk-lib';

/**
 * `lightspeed-x` → `LightspeedX`: construct ids (and so logical ids and output names) derived from a
 * function or provider name. One spelling, or a renamed id replaces the resource on the next deploy.
 */
export const pascal = (name: string): string =>
  name
    .split(/[^A-Za-z0-9]+/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/** A value as cdk-nag names it in a finding id: intrinsics flattened to `<LogicalId.Attr>`, `<AWS::Region>`. */
export function nagReference(stack: Stack, value: string): string {
  const visit = (node: unknown): string => {
    if (node === undefined) return '';
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
    if (typeof node === 'object' && node !== null) {
      const record = node as Record<string, unknown>;
      if (Array.isArray(record['Fn::Join'])) {
        const [delimiter, items] = record['Fn::Join'] as [string, unknown[]];
        return items.map(visit).join(delimiter);
      }
      if (Array.isArray(record['Fn::GetAtt'])) {
        const [resource, attribute] = record['Fn::GetAtt'] as [unknown, unknown];
        return `<${visit(resource)}.${visit(attribute)}>`;
      }
      if ('Ref' in record) return `<${visit(record.Ref)}>`;
    }
    return JSON.stringify(node);
  };
  return visit(stack.resolve(value));
}
