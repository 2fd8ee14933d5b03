import { describe, expect, it } from 'vitest';
import { type BrokerConfig, ConfigError, loadConfig } from '../../shared/config';
import { DEFAULT_LIGHTSPEED_SCOPES } from '../../shared/providers/lightspeed-x';

/** The ConfigError that loading `env` throws. */
function configErrorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw new Error(`expected a ConfigError, got ${String(error)}`);
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

describe('loadConfig', () => {
  describe('defaults of the contract', () => {
    const config = loadConfig({});

    it('listens on port 8787', () => {
      expect(config.port).toBe(8787);
    });

    it('uses http://localhost:$PORT as the public URL', () => {
      expect(config.publicUrl).toBe('http://localhost:8787');
    });

    it('derives the public URL from a configured PORT', () => {
      // Act
      const custom = loadConfig({ PORT: '9090' });

      // Assess
      expect(custom.port).toBe(9090);
      expect(custom.publicUrl).toBe('http://localhost:9090');
    });

    it('keeps local data in .broker', () => {
      expect(config.dataDir).toBe('.broker');
    });

    it('refreshes tokens expiring within 900 seconds', () => {
      expect(config.refreshMarginSeconds).toBe(900);
    });

    it('sweeps every 300 seconds', () => {
      expect(config.sweepIntervalSeconds).toBe(300);
    });

    it('allows no return_to origins', () => {
      expect(config.returnToOrigins).toEqual([]);
    });

    it('has no API key, DynamoDB endpoint or Lightspeed credentials (demo mode)', () => {
      expect(config.apiKey).toBeUndefined();
      expect(config.dynamodbEndpoint).toBeUndefined();
      expect(config.providers['lightspeed-x']?.app?.clientId).toBeUndefined();
      expect(config.providers['lightspeed-x']?.app?.clientSecret).toBeUndefined();
      expect(config.providers['lightspeed-x']?.app?.clientSecretArn).toBeUndefined();
    });

    it('uses the Lightspeed URLs of the contract', () => {
      expect(config.providers['lightspeed-x']?.settings.authorizeUrl).toBe(
        'https://secure.retail.lightspeed.app/connect',
      );
      expect(config.providers['lightspeed-x']?.settings.tokenUrl).toBe(
        'https://{domain_prefix}.retail.lightspeed.app/api/1.0/token',
      );
      expect(config.providers['lightspeed-x']?.settings.apiBaseUrl).toBe(
        'https://{domain_prefix}.retail.lightspeed.app/api',
      );
    });

    it('uses the Xentral URL of the contract', () => {
      expect(config.providers.xentral?.settings.apiBaseUrl).toBe('https://{account}.xentral.biz/api');
    });

    it('asks for a non-empty, read-only set of scopes', () => {
      expect(config.providers['lightspeed-x']?.app?.scopes.length).toBeGreaterThan(0);
      expect(config.providers['lightspeed-x']?.app?.scopes).toEqual([...DEFAULT_LIGHTSPEED_SCOPES]);
      for (const scope of config.providers['lightspeed-x']?.app?.scopes ?? []) {
        expect(scope).toMatch(/^[a-z_]+:read$/);
      }
    });
  });

  it('treats blank variables as unset', () => {
    // Act
    const config = loadConfig({ PORT: '  ', BROKER_DATA_DIR: '', LIGHTSPEED_X_SCOPES: ' ' });

    // Assess
    expect(config.port).toBe(8787);
    expect(config.dataDir).toBe('.broker');
    expect(config.providers['lightspeed-x']?.app?.scopes).toEqual([...DEFAULT_LIGHTSPEED_SCOPES]);
  });

  it('reads every contract variable it is given', () => {
    // Act
    const config = loadConfig({
      PORT: '8080',
      BROKER_PUBLIC_URL: 'https://broker.example.com',
      BROKER_API_KEY: 'key-0123456789',
      BROKER_DATA_DIR: '/var/lib/broker',
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:4567',
      REFRESH_MARGIN_SECONDS: '1200',
      SWEEP_INTERVAL_SECONDS: '60',
      LIGHTSPEED_X_CLIENT_ID: 'client-id',
      LIGHTSPEED_X_CLIENT_SECRET: 'client-secret',
      LIGHTSPEED_X_SCOPES: 'products:read\tsales:read  consignments:write:stock_order',
      LIGHTSPEED_X_AUTHORIZE_URL: 'http://127.0.0.1:9400/connect',
      LIGHTSPEED_X_TOKEN_URL: 'http://127.0.0.1:9400/{domain_prefix}/api/1.0/token',
      LIGHTSPEED_X_API_BASE_URL: 'http://127.0.0.1:9400/{domain_prefix}/api',
      XENTRAL_API_BASE_URL: 'http://127.0.0.1:9500/{account}/api',
    });

    // Assess
    expect(config).toMatchObject({
      port: 8080,
      publicUrl: 'https://broker.example.com',
      apiKey: 'key-0123456789',
      dataDir: '/var/lib/broker',
      dynamodbEndpoint: 'http://127.0.0.1:4567',
      refreshMarginSeconds: 1200,
      sweepIntervalSeconds: 60,
    });
    expect(config.providers.xentral?.settings).toEqual({ apiBaseUrl: 'http://127.0.0.1:9500/{account}/api' });
    expect(config.providers['lightspeed-x']).toEqual({
      app: {
        clientId: 'client-id',
        clientSecret: 'client-secret',
        clientSecretArn: undefined,
        scopes: ['products:read', 'sales:read', 'consignments:write:stock_order'],
      },
      settings: {
        authorizeUrl: 'http://127.0.0.1:9400/connect',
        tokenUrl: 'http://127.0.0.1:9400/{domain_prefix}/api/1.0/token',
        apiBaseUrl: 'http://127.0.0.1:9400/{domain_prefix}/api',
      },
    });
  });

  it('accepts the placeholders of every provider in its URL templates, host or path', () => {
    const config = loadConfig({
      SHOPIFY_TOKEN_URL: 'https://{shop}.myshopify.com/admin/oauth/access_token',
      CLOVER_API_BASE_URL: 'https://api.eu.clover.com/v3/merchants/{merchant_id}',
      LIGHTSPEED_R_API_BASE_URL: 'http://127.0.0.1:9400/{account}/API',
    });
    expect(config.providers.shopify?.settings.tokenUrl).toBe(
      'https://{shop}.myshopify.com/admin/oauth/access_token',
    );
    expect(config.providers.clover?.settings.apiBaseUrl).toBe(
      'https://api.eu.clover.com/v3/merchants/{merchant_id}',
    );
    expect(() => loadConfig({ SHOPIFY_TOKEN_URL: 'ftp://{shop}.myshopify.com/t' })).toThrow(
      'SHOPIFY_TOKEN_URL must be an http(s) URL, got "ftp://{shop}.myshopify.com/t"',
    );
  });

  it('drops trailing slashes from URLs', () => {
    // Act
    const config = loadConfig({ BROKER_PUBLIC_URL: 'https://broker.example.com/' });

    // Assess
    expect(config.publicUrl).toBe('https://broker.example.com');
  });

  it('returns a frozen object, nested parts included', () => {
    // Act
    const config = loadConfig({ BROKER_RETURN_TO_ORIGINS: 'https://app.example.com' });

    // Assess
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.providers)).toBe(true);
    expect(Object.isFrozen(config.providers['lightspeed-x'])).toBe(true);
    expect(Object.isFrozen(config.providers['lightspeed-x']?.app)).toBe(true);
    expect(Object.isFrozen(config.providers['lightspeed-x']?.settings)).toBe(true);
    expect(Object.isFrozen(config.providers['lightspeed-x']?.app?.scopes)).toBe(true);
    expect(Object.isFrozen(config.returnToOrigins)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  describe('errors name the variable', () => {
    it.each(['abc', '70000', '80.5', '-1'])('refuses PORT=%j', (port) => {
      // Act
      const error = configErrorOf({ PORT: port });

      // Assess
      expect(error.name).toBe('ConfigError');
      expect(error.code).toBe('invalid_configuration');
      expect(error.message).toBe(`PORT must be a whole number from 0 to 65535, got "${port}"`);
    });

    it.each(['ten', '-5', '604801', '1.5'])('refuses REFRESH_MARGIN_SECONDS=%j', (margin) => {
      // Act
      const error = configErrorOf({ REFRESH_MARGIN_SECONDS: margin });

      // Assess
      expect(error.message).toMatch(/^REFRESH_MARGIN_SECONDS must be a whole number/);
      expect(error.message).toContain(`"${margin}"`);
    });

    it('refuses a SWEEP_INTERVAL_SECONDS of zero', () => {
      // Act
      const error = configErrorOf({ SWEEP_INTERVAL_SECONDS: '0' });

      // Assess
      expect(error.message).toMatch(/^SWEEP_INTERVAL_SECONDS /);
    });

    it.each([
      ['BROKER_PUBLIC_URL', 'not a url'],
      ['BROKER_PUBLIC_URL', 'ftp://broker.example.com'],
      ['LIGHTSPEED_X_AUTHORIZE_URL', 'secure.retail.lightspeed.app/connect'],
      ['LIGHTSPEED_X_TOKEN_URL', 'file:///{domain_prefix}/token'],
      ['LIGHTSPEED_X_API_BASE_URL', '//{domain_prefix}.retail.lightspeed.app/api'],
      ['XENTRAL_API_BASE_URL', 'javascript:alert(1)'],
    ])('refuses %s=%j', (name, url) => {
      // Act
      const error = configErrorOf({ [name]: url });

      // Assess
      expect(error.message).toMatch(new RegExp(`^${name} must be an (absolute )?http\\(s\\) URL`));
    });

    it.each([
      'https://app.example.com/callback',
      'https://app.example.com?x=1',
      'https://app.example.com/#top',
      'app.example.com',
    ])('refuses a BROKER_RETURN_TO_ORIGINS entry %j', (entry) => {
      // Act
      const error = configErrorOf({ BROKER_RETURN_TO_ORIGINS: `https://ok.example.com, ${entry}` });

      // Assess
      expect(error.message).toMatch(/^BROKER_RETURN_TO_ORIGINS must list /);
      expect(error.message).toContain(`"${entry}"`);
    });

    it.each(['Sales:Read', 'products:read,', 'products/read', 'products:'])(
      'refuses the scope %j in LIGHTSPEED_X_SCOPES',
      (scope) => {
        // Act
        const error = configErrorOf({ LIGHTSPEED_X_SCOPES: `outlets:read ${scope}` });

        // Assess
        expect(error.message).toBe(
          `LIGHTSPEED_X_SCOPES has an invalid scope "${scope}" (e.g. products:read)`,
        );
      },
    );
  });

  it('normalises return_to origins to their canonical origin', () => {
    // Act
    const config: BrokerConfig = loadConfig({
      BROKER_RETURN_TO_ORIGINS:
        ' https://App.Example.com/ ,http://localhost:3000,, https://shop.example.com:443 ',
    });

    // Assess
    expect(config.returnToOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:3000',
      'https://shop.example.com',
    ]);
  });
});
