import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration } from 'aws-cdk-lib';
import { describe, expect, it, vi } from 'vitest';
import { readBrokerContext } from '../../infra/context';
import { cdkJsonContext } from './support';

const contextOf = (context: Record<string, unknown>) => readBrokerContext(new App({ context }).node);

describe('stack configuration from CDK context', () => {
  it('needs no context at all', () => {
    const { stackName, props } = contextOf({});
    expect(stackName).toBe('TokenBroker');
    expect(props.providers).toBeUndefined();
    expect(props.customDomain).toBeUndefined();
  });

  it('reads the documented keys, as strings from -c or as JSON from cdk.json', () => {
    const { stackName, props } = contextOf({
      stackName: 'AcmeBroker',
      lightspeedClientId: 'client-123',
      lightspeedScopes: 'products:read, sales:read',
      returnToOrigins: ['https://app.example.com', 'https://admin.example.com'],
      refreshMarginSeconds: '600',
      sweepIntervalSeconds: 120,
      sweepConcurrency: '4',
      alarmEmail: 'ops@example.com',
      domainName: 'broker.example.com',
      certificateArn: 'arn:aws:acm:eu-central-1:123456789012:certificate/abc',
      logLevel: 'debug',
      logRetentionDays: '90',
      throttleRateLimit: '50',
    });
    expect(stackName).toBe('AcmeBroker');
    expect(props.providers?.['lightspeed-x']).toEqual({
      clientId: 'client-123',
      scopes: ['products:read', 'sales:read'],
    });
    expect(props.returnToOrigins).toEqual(['https://app.example.com', 'https://admin.example.com']);
    expect(props.refreshMargin?.toSeconds()).toBe(Duration.minutes(10).toSeconds());
    expect(props.sweepInterval?.toSeconds()).toBe(120);
    expect(props.sweepConcurrency).toBe(4);
    expect(props.alarmEmail).toBe('ops@example.com');
    expect(props.customDomain).toEqual({
      domainName: 'broker.example.com',
      certificateArn: 'arn:aws:acm:eu-central-1:123456789012:certificate/abc',
    });
    expect(props.logLevel).toBe('DEBUG');
    expect(props.logRetention).toBe(90);
    expect(props.throttle).toEqual({ rateLimit: 50, burstLimit: 200 });
  });

  it.each([
    [{ sweepIntervalSeconds: '30' }, /sweepIntervalSeconds/],
    [{ sweepConcurrency: 'many' }, /sweepConcurrency/],
    [{ domainName: 'broker.example.com' }, /domainName and certificateArn/],
    [{ lightspeedScopes: 'products:read' }, /need lightspeedClientId/],
    [{ logLevel: 'verbose' }, /logLevel/],
    [{ logRetentionDays: '2' }, /logRetentionDays/],
  ])('rejects %o naming the key', (context, message) => {
    expect(() => contextOf(context)).toThrow(message);
  });
});

describe('infra/app.ts, the entry of `cdk synth`', () => {
  // Bundling is covered by lambda.test.ts (same construct, real esbuild); skipped here to keep the suite fast.
  it('synthesizes the context it is given and passes cdk-nag', async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'broker-synth-'));
    const messages: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      messages.push(String(chunk));
      return true;
    });
    // What the CDK CLI hands the app: the output directory and the context (cdk.json plus -c).
    vi.stubEnv('CDK_OUTDIR', outdir);
    vi.stubEnv(
      'CDK_CONTEXT_JSON',
      JSON.stringify({
        ...cdkJsonContext(),
        lightspeedClientId: 'client-123',
        'aws:cdk:bundling-stacks': [],
      }),
    );
    try {
      await import('../../infra/app');
      const stderr = messages.join('');
      expect(process.exitCode ?? 0).toBe(0);
      expect(stderr).toContain('AwsSolutions: 0 unacknowledged findings');
      expect(stderr).toContain('Serverless: 0 unacknowledged findings');
      const template = JSON.parse(readFileSync(join(outdir, 'TokenBroker.template.json'), 'utf8')) as {
        Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
      };
      const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
      expect(functions).toHaveLength(4);
      expect(JSON.stringify(functions[0]?.Properties)).toContain('"LIGHTSPEED_X_CLIENT_ID":"client-123"');
      expect(existsSync(join(outdir, 'manifest.json'))).toBe(true);
    } finally {
      write.mockRestore();
      vi.unstubAllEnvs();
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
