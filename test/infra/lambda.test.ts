import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleFileName, esbuildOptions } from '../../bench/lib/bundling';
import { LAMBDA_BUNDLING, lambdaEntry } from '../../infra/bundling';
import { EXTRA_ENV, LAMBDA_RUNTIME, METRICS } from '../../infra/token-broker';
import { ENV, loadConfig } from '../../shared/config';
import { GRANT_RETRY_POLICY } from '../../shared/domain/retry';
import { PROVIDER_DEFINITIONS } from '../../shared/providers';
import { lightspeedX } from '../../shared/providers/lightspeed-x';
import { type Json, type Resource, type Synth, synthBroker, TEST_PROPS } from './support';

const LIGHTSPEED_ENV = lightspeedX.oauth.env;

const NAMES = ['public', 'tokens', 'admin', 'sweep'] as const;
let synth: Synth;
let resources: Record<string, Resource>;

beforeAll(() => {
  synth = synthBroker(undefined, { bundle: true });
  resources = synth.template.toJSON().Resources as Record<string, Resource>;
});

const fnProps = (name: (typeof NAMES)[number]): Record<string, Json> => {
  const id = synth.stack.getLogicalId(synth.stack.broker.functions[name].node.defaultChild as never);
  return resources[id]?.Properties ?? {};
};
const envOf = (name: (typeof NAMES)[number]) =>
  ((fnProps(name).Environment as { Variables: Record<string, Json> }).Variables ?? {}) as Record<
    string,
    Json
  >;

/** The tokens bundle as bench/lib/bundling.ts builds it (once). */
let benchBuild: Promise<{ code: Buffer }> | undefined;
const benchTokensBundle = () => {
  benchBuild ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-bundle-'));
    try {
      const outfile = join(dir, bundleFileName());
      await build(esbuildOptions(lambdaEntry('tokens'), outfile));
      return { code: readFileSync(outfile) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return benchBuild;
};

/** The bundle directory of a function, staged in the cloud assembly. */
const bundleDir = (name: (typeof NAMES)[number]): string => {
  const asset = synth.stack.broker.functions[name].node.findChild('Code') as Asset;
  return join(synth.app.outdir, asset.assetPath);
};

describe('Lambda functions', () => {
  it('has one function per handler group plus the sweep, each with its own entry', () => {
    synth.template.resourceCountIs('AWS::Lambda::Function', NAMES.length);
    const hashes = new Set(NAMES.map((name) => JSON.stringify(fnProps(name).Code)));
    expect(hashes.size).toBe(NAMES.length);
  });

  it('runs on the same Node.js major as the tests', () => {
    const major = (version: string) => Number(/(\d+)/.exec(version)?.[1]);
    expect(LAMBDA_RUNTIME).toBe(Runtime.NODEJS_24_X);
    expect(major(LAMBDA_RUNTIME.name)).toBe(major(process.versions.node));
  });

  it.each(NAMES)(
    '%s: arm64, Node.js 24, explicit memory and timeout, tracing, JSON logs with retention',
    (name) => {
      const props = fnProps(name);
      expect(props.Runtime).toBe('nodejs24.x');
      expect(props.Architectures).toEqual(['arm64']);
      expect(props.Handler).toBe('index.handler');
      expect(typeof props.MemorySize).toBe('number');
      expect(typeof props.Timeout).toBe('number');
      // The tokens function outlives API Gateway's 30 s: the lease holder must store a rotated token.
      const limit = name === 'sweep' ? 900 : name === 'tokens' ? 60 : 29;
      expect(props.Timeout as number).toBeLessThanOrEqual(limit);
      expect(props.TracingConfig).toEqual({ Mode: 'Active' });
      const logging = props.LoggingConfig as { LogFormat: string; LogGroup: { Ref: string } };
      expect(logging.LogFormat).toBe('JSON');
      expect(resources[logging.LogGroup.Ref]?.Properties?.RetentionInDays).toBe(30);
    },
  );

  it('finishes a sweep before the next one is scheduled', () => {
    expect(fnProps('sweep').Timeout as number).toBeLessThan(300);
  });

  it('keeps the function that may hold a refresh lease alive through the whole grant budget and the write', () => {
    expect(fnProps('tokens').Timeout as number).toBeGreaterThanOrEqual(
      GRANT_RETRY_POLICY.budgetMs / 1000 + 10,
    );
  });

  it.each(NAMES)('%s: bundled as minified CommonJS with a source map and the AWS SDK', (name) => {
    const dir = bundleDir(name);
    expect(readdirSync(dir).sort()).toEqual(['index.js', 'index.js.map']);
    const code = readFileSync(join(dir, 'index.js'), 'utf8');
    // CommonJS: the handler is a property of module.exports, and no ES module syntax is left
    // (an `import` of a built-in would bring back the ES module facade, infra/bundling.ts).
    expect(code).toMatch(/module\.exports\s*=/);
    expect(code).not.toMatch(/(?:^|[;}\n])\s*import\s*[{*\w][^;]*\sfrom\s*["']/);
    expect(code).not.toContain('import.meta');
    // Minified: few, long lines. Source map linked.
    expect(code.split('\n').length).toBeLessThan(200);
    expect(code).toMatch(/\/\/# sourceMappingURL=index\.js\.map\s*$/);
    // The AWS SDK is inside the bundle, not imported from the runtime's copy.
    expect(code).not.toMatch(/(?:from|import\()\s*["']@aws-sdk\//);
    expect(code).not.toMatch(/[^[]require\(["']@aws-sdk\//);
    expect(code).toContain('secretsmanager');
    expect(existsSync(join(dir, 'node_modules'))).toBe(false);
  });

  it.each(NAMES)(
    '%s: takes its credentials from the environment, without the STS and SSO clients of the default chain',
    (name) => {
      const code = readFileSync(join(bundleDir(name), 'index.js'), 'utf8');
      // Operation names of the STS and SSO clients the default chain (web identity, SSO) bundles.
      expect(code).not.toContain('AssumeRoleWithWebIdentity');
      expect(code).not.toContain('GetRoleCredentials');
      expect(code).toContain('AWS_SESSION_TOKEN');
    },
  );

  it('builds for the runtime it deploys to', () => {
    expect(LAMBDA_BUNDLING.target).toBe(`node${/\d+/.exec(LAMBDA_RUNTIME.name)?.[0]}`);
  });

  it('ships the bundle the cold-start benchmark measures, byte for byte', async () => {
    const { code } = await benchTokensBundle();
    expect(code.equals(readFileSync(join(bundleDir('tokens'), bundleFileName())))).toBe(true);
  });

  it('enables source maps at run time', () => {
    for (const name of NAMES) expect(envOf(name).NODE_OPTIONS).toBe('--enable-source-maps');
  });

  it('leaves source maps off at run time when told, and still ships each map beside its bundle', () => {
    const off = synthBroker({ ...TEST_PROPS, sourceMapStackTraces: false }, { bundle: true });
    const offResources = off.template.toJSON().Resources as Record<string, Resource>;
    for (const name of NAMES) {
      const fn = off.stack.broker.functions[name];
      const id = off.stack.getLogicalId(fn.node.defaultChild as never);
      const environment = offResources[id]?.Properties?.Environment as
        | { Variables?: Record<string, Json> }
        | undefined;
      expect(environment?.Variables).toHaveProperty(ENV.tableName);
      expect(environment?.Variables).not.toHaveProperty('NODE_OPTIONS');
      const asset = fn.node.findChild('Code') as Asset;
      expect(readdirSync(join(off.app.outdir, asset.assetPath)).sort()).toEqual(['index.js', 'index.js.map']);
    }
  });

  it('configures every function through the environment names of shared/config.ts and the provider definitions', () => {
    const providerEnv = PROVIDER_DEFINITIONS.flatMap((definition) => [
      ...Object.values(definition.settings).map((setting) => setting.env),
      ...Object.values(definition.oauth?.env ?? {}),
    ]);
    const known = new Set<string>([
      ...Object.values(ENV),
      ...Object.values(EXTRA_ENV),
      ...providerEnv,
      'NODE_OPTIONS',
    ]);
    for (const name of NAMES) {
      const env = envOf(name);
      for (const key of Object.keys(env)) expect(known, `${name}: ${key}`).toContain(key);
      expect(env[ENV.tableName]).toEqual({ Ref: expect.stringMatching(/^BrokerTable/) });
      expect(env[ENV.secretPrefix]).toBe('tokenbroker/');
      expect(env[LIGHTSPEED_ENV.clientId]).toBe('test-client-id');
      expect(env[LIGHTSPEED_ENV.scopes]).toBe('products:read sales:read');
      expect(env[ENV.returnToOrigins]).toBe('https://app.example.com,https://admin.example.com');
      expect(env[ENV.refreshMarginSeconds]).toBe('900');
      expect(env[ENV.sweepConcurrency]).toBe('8');
      expect(env[ENV.kmsKeyArn]).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^BrokerTableKey/), 'Arn'],
      });
      expect(env[EXTRA_ENV.powertoolsServiceName]).toBe(METRICS.service);
      expect(env[EXTRA_ENV.powertoolsMetricsNamespace]).toBe(METRICS.namespace);
      expect(env[EXTRA_ENV.powertoolsLogLevel]).toBe('INFO');
      // Never a secret value in the environment: only the secret's ARN.
      expect(env).not.toHaveProperty(LIGHTSPEED_ENV.clientSecret);
    }
  });

  it('keeps the handler response (a token) out of X-Ray metadata in every function', () => {
    // Powertools' Tracer records a handler's response unless told otherwise (issue 10, point 9).
    for (const name of NAMES) expect(envOf(name)[EXTRA_ENV.powertoolsTracerCaptureResponse]).toBe('false');
  });

  it('hands the client secret ARN to the functions that call the token endpoint, not to admin', () => {
    for (const name of ['public', 'tokens', 'sweep'] as const) {
      expect(envOf(name)[LIGHTSPEED_ENV.clientSecretArn]).toEqual({
        Ref: expect.stringMatching(/ClientSecret/),
      });
    }
    expect(envOf('admin')).not.toHaveProperty(LIGHTSPEED_ENV.clientSecretArn);
  });

  it('produces an environment the broker configuration loader accepts', () => {
    for (const name of NAMES) {
      const env = Object.fromEntries(
        Object.entries(envOf(name)).map(([key, value]) => [
          key,
          key === ENV.publicUrl
            ? 'https://abc123.execute-api.eu-central-1.amazonaws.com'
            : typeof value === 'string'
              ? value
              : 'resolved-at-deploy',
        ]),
      );
      const config = loadConfig(env);
      expect(config.returnToOrigins).toEqual(['https://app.example.com', 'https://admin.example.com']);
      expect(config.providers['lightspeed-x']?.app?.scopes).toEqual(['products:read', 'sales:read']);
      expect(config.secretPrefix).toBe('tokenbroker/');
    }
  });
});
