/** Backend management routes: connect sessions, connections, personal tokens. */

import type { RouteTable } from '../http/pipeline';
import { connectionListResponse, connectionMetadata, connectSessionResponse } from '../http/presenters';
import { parseInput, parseJsonBody, personalTokenBodySchema, providerRequestSchemas } from '../http/requests';
import { json, noContent } from '../http/responses';
import type { Services } from '../services';

/** The `admin` group's routes. */
export function adminRoutes(services: Services): RouteTable {
  const { connect, connections } = services;
  const {
    connectionPath: connectionPathSchema,
    connectSessionBody: connectSessionBodySchema,
    listQuery: listQuerySchema,
  } = providerRequestSchemas(services.providers);
  return {
    'POST /connect-sessions': async ({ body }) => {
      const input = parseInput(connectSessionBodySchema, parseJsonBody(body), 'body');
      const session = await connect.createSession({
        provider: input.provider,
        account: input.account,
        returnTo: input.return_to,
        reference: input.reference,
      });
      return json(201, connectSessionResponse(session));
    },
    'GET /connections': async ({ query }) => {
      const input = parseInput(listQuerySchema, query, 'query');
      const list = await connections.list({
        ...(input.provider === undefined ? {} : { provider: input.provider }),
        ...(input.status === undefined ? {} : { status: input.status }),
        limit: input.limit,
        ...(input.next_token === undefined ? {} : { cursor: input.next_token }),
      });
      return json(200, connectionListResponse(list));
    },
    'GET /connections/{provider}/{account}': async ({ path }) =>
      json(200, connectionMetadata(await connections.get(parseInput(connectionPathSchema, path, 'path')))),
    'DELETE /connections/{provider}/{account}': async ({ path }) => {
      await connections.delete(parseInput(connectionPathSchema, path, 'path'));
      return noContent();
    },
    'PUT /personal-tokens/{provider}/{account}': async ({ path, body }) => {
      const key = parseInput(connectionPathSchema, path, 'path');
      const input = parseInput(personalTokenBodySchema, parseJsonBody(body), 'body');
      const stored = await connections.putPersonalToken(key, {
        token: input.token,
        name: input.name,
        expiresAt: input.expires_at,
        verify: input.verify === true,
      });
      return json(200, connectionMetadata(stored));
    },
    'DELETE /personal-tokens/{provider}/{account}': async ({ path }) => {
      await connections.deletePersonalToken(parseInput(connectionPathSchema, path, 'path'));
      return noContent();
    },
  };
}
