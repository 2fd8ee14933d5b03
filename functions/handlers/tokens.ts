/** `GET /tokens/{provider}/{account}`: the route SaaS backends call before every provider request. */

import { tokenResponse } from '../http/presenters';
import { connectionPathSchema, parseInput, tokenQuerySchema } from '../http/requests';
import { json } from '../http/responses';
import type { Services } from '../services';
import { httpHandler } from './common';

/** Builds the `tokens` group's Lambda handler. */
export function createTokensHandler(services: Services) {
  return httpHandler(services, {
    'GET /tokens/{provider}/{account}': async ({ path, query, caller }) => {
      const key = parseInput(connectionPathSchema, path, 'path');
      const options = parseInput(tokenQuerySchema, query, 'query');
      const token = await services.tokens.getToken(key, {
        minValidSeconds: options.min_valid_seconds,
        forceRefresh: options.force_refresh,
        caller: caller ?? 'unknown',
      });
      return json(200, tokenResponse(token));
    },
  });
}
