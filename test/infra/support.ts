/**
 * Shared fixtures of the infra tests: an in-memory synth of the stack (with the cdk.json context,
 * so tests see what `cdk synth` sees) and helpers to read IAM policies out of a template.
 */
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TokenBrokerStack, type TokenBrokerStackProps } from '../../infra/stack';
import type { BrokerFunctionName } from '../../infra/token-broker';

export const TEST_ENV = { account: '123456789012', region: 'eu-central-1' } as const;

/** The props most tests synthesize: every option that changes the template is set. */
export const TEST_PROPS: TokenBrokerStackProps = {
  env: TEST_ENV,
  providers: { 'lightspeed-x': { clientId: 'test-client-id', scopes: ['products:read', 'sales:read'] } },
  returnToOrigins: ['https://app.example.com/', 'https://admin.example.com'],
  alarmEmail: 'ops@example.com',
};

export const cdkJsonContext = (): Record<string, unknown> =>
  (
    JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
      context: Record<string, unknown>;
    }
  ).context;

export interface Synth {
  readonly app: App;
  readonly stack: TokenBrokerStack;
  readonly template: Template;
}

export interface SynthOptions {
  readonly stackName?: string;
  /**
   * Run esbuild for real (local, never Docker). Off by default: only the tests about the bundles need
   * them, and skipping keeps the suite fast; the rest of the template is identical.
   */
  readonly bundle?: boolean;
  /** CDK's built-in CloudFormation rule check (slow to load); the app tests run it, the template tests need not. */
  readonly cfnValidation?: boolean;
}

/** Synthesizes the stack in memory, with the context of cdk.json. */
export function synthBroker(props: TokenBrokerStackProps = TEST_PROPS, options: SynthOptions = {}): Synth {
  const app = new App({
    builtinCloudFormationValidation: options.cfnValidation ?? false,
    context: { ...cdkJsonContext(), ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
  const stack = new TokenBrokerStack(app, options.stackName ?? 'TokenBroker', props);
  return { app, stack, template: Template.fromStack(stack) };
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Resource = { Type: string; Properties?: Record<string, Json>; [key: string]: Json | undefined };

export interface Statement {
  readonly effect: string;
  readonly actions: string[];
  /** Resources rendered to strings: pseudo parameters filled in, references as `<LogicalId>`/`<LogicalId.Attr>`. */
  readonly resources: string[];
  /** Rendered conditions: operator → key → allowed values. */
  readonly conditions: Record<string, Record<string, string[]>>;
  readonly source: string;
}

const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Renders a CloudFormation value to a string the way IAM would see it, with the test account and region. */
export function render(value: Json | undefined): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return JSON.stringify(value);
  const join = value['Fn::Join'];
  if (Array.isArray(join)) {
    const [separator, parts] = join as [string, Json[]];
    return parts.map(render).join(separator);
  }
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return `<${String(getAtt[0])}.${String(getAtt[1])}>`;
  if (typeof value.Ref === 'string') {
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': TEST_ENV.region,
      'AWS::AccountId': TEST_ENV.account,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    return pseudo[value.Ref] ?? `<${value.Ref}>`;
  }
  return JSON.stringify(value);
}

/** Every IAM statement in the template: policies, managed policies and inline role policies. */
export function allStatements(template: Template): Statement[] {
  const statements: Statement[] = [];
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const add = (source: string, document: Json | undefined) => {
    const statementList = (document as { Statement?: Json[] } | undefined)?.Statement ?? [];
    for (const raw of statementList) {
      const statement = raw as Record<string, Json>;
      statements.push({
        effect: String(statement.Effect),
        actions: asArray(statement.Action as string | string[] | undefined),
        resources: asArray(statement.Resource as Json | Json[] | undefined).map(render),
        conditions: Object.fromEntries(
          Object.entries((statement.Condition ?? {}) as Record<string, Record<string, Json>>).map(
            ([operator, entries]) => [
              operator,
              Object.fromEntries(
                Object.entries(entries).map(([key, values]) => [
                  key,
                  asArray(values as Json | Json[]).map(render),
                ]),
              ),
            ],
          ),
        ),
        source,
      });
    }
  };
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      add(id, resource.Properties?.PolicyDocument);
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of asArray(resource.Properties?.Policies as Json[] | undefined)) {
        add(id, (policy as Record<string, Json>).PolicyDocument);
      }
    }
  }
  return statements;
}

/** The logical id of a broker function's CfnFunction and of its role. */
export function functionIds(synth: Synth, name: BrokerFunctionName): { functionId: string; roleId: string } {
  const fn = synth.stack.broker.functions[name];
  const functionId = synth.stack.getLogicalId(fn.node.defaultChild as never);
  const resource = (synth.template.toJSON().Resources as Record<string, Resource>)[functionId];
  const role = resource?.Properties?.Role as { 'Fn::GetAtt': [string, string] } | undefined;
  if (role === undefined) throw new Error(`no role on ${functionId}`);
  return { functionId, roleId: role['Fn::GetAtt'][0] };
}

/** The statements that apply to a broker function: its role's inline, attached and managed policies. */
export function functionStatements(synth: Synth, name: BrokerFunctionName): Statement[] {
  const { roleId } = functionIds(synth, name);
  const resources = synth.template.toJSON().Resources as Record<string, Resource>;
  const attached = new Set<string>([roleId]);
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const roles = asArray(resource.Properties?.Roles as Json[] | undefined);
    if (roles.some((role) => (role as { Ref?: string }).Ref === roleId)) attached.add(id);
  }
  return allStatements(synth.template).filter((statement) => attached.has(statement.source));
}

/** IAM wildcard matching (`*` any run of characters, `?` one character), case-sensitive like ARNs. */
export function iamMatches(pattern: string, value: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('')
      .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
  );
  return regex.test(value);
}

/**
 * Whether any Allow statement lets `action` on `resource` for a request with `context` (condition keys
 * such as `kms:ViaService`). Only `StringEquals` is understood; any other operator fails closed.
 */
export function allows(
  statements: readonly Statement[],
  action: string,
  resource: string,
  context: Readonly<Record<string, string>> = {},
): boolean {
  const conditionsHold = (conditions: Statement['conditions']) =>
    Object.entries(conditions).every(
      ([operator, entries]) =>
        operator === 'StringEquals' &&
        Object.entries(entries).every(
          ([key, values]) => context[key] !== undefined && values.includes(context[key]),
        ),
    );
  return statements.some(
    (statement) =>
      statement.effect === 'Allow' &&
      statement.actions.some((pattern) => iamMatches(pattern.toLowerCase(), action.toLowerCase())) &&
      statement.resources.some((pattern) => iamMatches(pattern, resource)) &&
      conditionsHold(statement.conditions),
  );
}
