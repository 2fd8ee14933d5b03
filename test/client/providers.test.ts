/** The CLI's help facts about providers agree with the broker's own configured registry. */
import { describe, expect, it } from 'vitest';
import { PROVIDER_HELP } from '../../client/cli/providers';
import { loadConfig } from '../../shared/config';
import { createProviders, PROVIDER_DEFINITIONS } from '../../shared/providers';

describe('PROVIDER_HELP', () => {
  const registry = createProviders(loadConfig({}));

  it('lists every provider of the registry in its order', () => {
    expect(PROVIDER_HELP.map((p) => p.id)).toEqual(PROVIDER_DEFINITIONS.map((d) => d.id));
  });

  it.each(PROVIDER_DEFINITIONS.map((d) => [d.id, d] as const))(
    'says of %s what the broker does: account first, OAuth, personal tokens',
    (id, definition) => {
      const help = PROVIDER_HELP.find((p) => p.id === id);
      const provider = registry[id];
      expect(help).toEqual({
        id,
        displayName: definition.displayName,
        account: definition.account.description,
        example: definition.account.example,
        oauth: provider.oauth !== undefined,
        accountFirst: provider.oauth?.accountBeforeAuthorization ?? false,
        personalTokens: provider.verifyRequest !== undefined,
      });
      // The example it prints is one the broker accepts.
      expect(definition.account.pattern.test(definition.account.example)).toBe(true);
    },
  );
});
