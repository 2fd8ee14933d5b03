import { beforeAll, describe, expect, it } from 'vitest';
import type { BrokerFunctionName } from '../../infra/token-broker';
import { ENV } from '../../shared/config';
import { allows, functionIds, functionStatements, type Resource, type Synth, synthBroker } from './support';

const NAMES: BrokerFunctionName[] = ['public', 'tokens', 'admin', 'sweep'];
let synth: Synth;
let resources: Record<string, Resource>;
let busId: string;

beforeAll(() => {
  synth = synthBroker();
  resources = synth.template.toJSON().Resources as Record<string, Resource>;
  busId = synth.stack.getLogicalId(synth.stack.broker.eventBus.node.defaultChild as never);
});

describe('event bus', () => {
  it('creates one EventBridge bus for the broker events', () => {
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::Events::EventBus')).toHaveLength(1);
    expect(resources[busId]?.Type).toBe('AWS::Events::EventBus');
  });

  it('names the bus to every function and lets each put events on that bus only', () => {
    for (const name of NAMES) {
      const { functionId } = functionIds(synth, name);
      const environment = resources[functionId]?.Properties?.Environment as {
        Variables: Record<string, unknown>;
      };
      const variables = environment.Variables;
      expect(variables[ENV.eventBusName], name).toEqual({ Ref: busId });
      const statements = functionStatements(synth, name);
      expect(allows(statements, 'events:PutEvents', `<${busId}.Arn>`), name).toBe(true);
      expect(
        allows(statements, 'events:PutEvents', 'arn:aws:events:eu-central-1:123456789012:event-bus/default'),
        name,
      ).toBe(false);
    }
  });

  it('outputs the bus name for operators who add rules', () => {
    expect(Object.keys(synth.template.toJSON().Outputs ?? {})).toContain('EventBusName');
  });
});
