/** Public routes, opened by retailers' browsers: health, the connect link, the OAuth callback. */
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import { bindingCookieName } from '../../shared/domain/connect-tokens';
import { openApiDocument } from '../http/openapi';
import { pages } from '../http/pages';
import type { RouteTable } from '../http/pipeline';
import { json, page, redirect } from '../http/responses';
import { withParams } from '../http/url';
import type { Services } from '../services';

/** The `public` group's routes. */
export function publicRoutes(services: Services): RouteTable {
  const secure = services.config.publicUrl.startsWith('https:');
  const cookie = (name: string, value: string, maxAge: number, provider: string) =>
    serializeCookie(name, value, {
      httpOnly: true,
      sameSite: 'lax',
      secure,
      path: `/oauth/${provider}/callback`,
      maxAge,
    });
  const displayName = (provider: string) =>
    Object.hasOwn(services.providers, provider)
      ? services.providers[provider as keyof typeof services.providers].displayName
      : 'The provider';

  let openApi: string | undefined;
  return {
    // 503 when the store cannot be reached: nothing a browser or backend asks for would work then.
    'GET /health': async () => {
      try {
        await services.health();
        return json(200, { status: 'ok' });
      } catch (error) {
        services.logger.error('health check: the store cannot be reached', {
          errorName: error instanceof Error ? error.name : typeof error,
        });
        return json(503, { status: 'unavailable', message: 'the broker cannot reach its store' });
      }
    },

    'GET /openapi.json': async () => {
      openApi ??= JSON.stringify(openApiDocument(services.config.publicUrl));
      return {
        statusCode: 200,
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: openApi,
      };
    },

    'GET /connect/{session_id}': async ({ path }) => {
      const started = await services.connect.startAuthorization(path.session_id ?? '');
      if (started === undefined) return page(410, pages.expired());
      const { name, value, maxAgeSeconds } = started.cookie;
      return redirect(302, started.location, [cookie(name, value, maxAgeSeconds, started.provider)]);
    },

    // Only for a provider whose installs start on its side, signed with the app's client secret.
    'GET /oauth/{provider}/install': async ({ path, query }) => {
      const provider = path.provider ?? '';
      const started = await services.connect.startInstall({ provider, query });
      if ('refused' in started) {
        services.logger.warn('install refused', { provider, reason: started.refused });
        return page(400, pages.invalid());
      }
      const { name, value, maxAgeSeconds } = started.cookie;
      return redirect(302, started.location, [cookie(name, value, maxAgeSeconds, started.provider)]);
    },

    'GET /oauth/{provider}/callback': async ({ path, query, event }) => {
      const provider = path.provider ?? '';
      const cookies = parseCookies((event.cookies ?? []).join('; '));
      const outcome = await services.connect.completeCallback({
        provider,
        query,
        cookies: Object.fromEntries(
          Object.entries(cookies).filter((e): e is [string, string] => e[1] !== undefined),
        ),
      });
      const state = query.state;
      // The binding cookie only ever exists on a known provider's callback path; an unknown
      // provider segment is the caller's raw text and may not even be a valid cookie path.
      const clear =
        state === undefined || !Object.hasOwn(services.providers, provider)
          ? undefined
          : [cookie(bindingCookieName(state), '', 0, provider)];
      switch (outcome.kind) {
        case 'connected':
          return outcome.returnTo === undefined
            ? page(200, pages.connected(displayName(provider), outcome.key.account), clear)
            : redirect(
                303,
                withParams(outcome.returnTo, {
                  status: 'connected',
                  provider: outcome.key.provider,
                  account: outcome.key.account,
                  reference: outcome.reference,
                }),
                clear,
              );
        case 'denied':
          return outcome.returnTo === undefined
            ? page(200, pages.declined(displayName(provider)), clear)
            : redirect(
                303,
                withParams(outcome.returnTo, { status: 'denied', provider, reference: outcome.reference }),
                clear,
              );
        case 'invalid':
          services.logger.warn('callback refused', { provider, reason: outcome.reason });
          return page(400, pages.invalid(), clear);
        case 'failed':
          return page(502, pages.failed(displayName(provider)), clear);
      }
    },
  };
}
