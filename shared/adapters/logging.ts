/**
 * Structured JSON logs through Powertools' Logger in both runtimes. The domain sees only the
 * Logger port; every line carries the Lambda request id when there is one.
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Logger } from '../domain/ports';

/** The port view of a Powertools logger. */
export function portLogger(logger: PowertoolsLogger): Logger {
  return {
    debug: (message, attributes) => logger.debug(message, attributes ?? {}),
    info: (message, attributes) => logger.info(message, attributes ?? {}),
    warn: (message, attributes) => logger.warn(message, attributes ?? {}),
    error: (message, attributes) => logger.error(message, attributes ?? {}),
  };
}

/** The broker's Powertools logger (service `token-broker`; level from POWERTOOLS_LOG_LEVEL). */
export const createPowertoolsLogger = (): PowertoolsLogger =>
  new PowertoolsLogger({ serviceName: 'token-broker' });
