/** The static part of the functions' environment, checked at synth with the broker's own config loader. */
import { type Duration, Token } from 'aws-cdk-lib';
import { ENV, loadConfig } from '../../shared/config';
import { METRICS } from '../../shared/constants';
import type { ConfiguredProvider } from './secrets';

/** Environment names that are not part of the broker's own configuration (`ENV`): Powertools' own. */
export const EXTRA_ENV = {
  powertoolsServiceName: 'POWERTOOLS_SERVICE_NAME',
  powertoolsLogLevel: 'POWERTOOLS_LOG_LEVEL',
  powertoolsMetricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  powertoolsTracerCaptureResponse: 'POWERTOOLS_TRACER_CAPTURE_RESPONSE',
} as const;

export interface StaticSettings {
  readonly providers: readonly ConfiguredProvider[];
  readonly returnToOrigins: readonly string[];
  readonly refreshMargin: Duration;
  readonly sweepConcurrency: number;
  readonly logLevel: string;
  /** NODE_OPTIONS=--enable-source-maps (TokenBrokerProps.sourceMapStackTraces). */
  readonly sourceMapStackTraces: boolean;
}

/**
 * Fails at synth, not at the first request: the same validation the functions run at cold start.
 * Values that are tokens (resolved at deploy) are left to the functions.
 */
export function staticEnvironment(settings: StaticSettings): Record<string, string> {
  const env: Record<string, string> = {
    [ENV.returnToOrigins]: settings.returnToOrigins.join(','),
    [ENV.refreshMarginSeconds]: String(settings.refreshMargin.toSeconds()),
    [ENV.sweepConcurrency]: String(settings.sweepConcurrency),
  };
  for (const { settings: provider, options } of settings.providers) {
    env[provider.clientIdEnv] = options.clientId;
    if (options.scopes !== undefined) env[provider.scopesEnv] = options.scopes.join(' ');
  }
  const checkable = Object.fromEntries(Object.entries(env).filter(([, value]) => !Token.isUnresolved(value)));
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(checkable);
  } catch (error) {
    throw new Error(`TokenBroker configuration: ${(error as Error).message}`, { cause: error });
  }
  if (!Token.isUnresolved(env[ENV.returnToOrigins])) {
    env[ENV.returnToOrigins] = config.returnToOrigins.join(',');
  }
  return {
    ...env,
    [EXTRA_ENV.powertoolsServiceName]: METRICS.service,
    [EXTRA_ENV.powertoolsMetricsNamespace]: METRICS.namespace,
    [EXTRA_ENV.powertoolsLogLevel]: settings.logLevel,
    // A handler's response is a token: X-Ray must never get it as metadata (Powertools' default).
    [EXTRA_ENV.powertoolsTracerCaptureResponse]: 'false',
    // Stack traces through the minified bundle point at the TypeScript sources.
    ...(settings.sourceMapStackTraces ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
  };
}
