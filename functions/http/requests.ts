/**
 * Request schemas (zod) of the HTTP layer: the one place input is checked. A failure becomes an InvalidRequestError
 * whose message names the field, before anything is read, written or sent to a provider.
 *
 * Written with `zod/mini`, zod 4's functional API: the same parser and the same JSON Schema output
 * (functions/http/openapi.ts), but a bundle holds only the checks it uses, where the chainable
 * `zod` API brings all of zod (about 90 KB minified) into every Lambda function.
 */
import { en } from 'zod/locales';
import * as z from 'zod/mini';
import { type AccountSyntax, ANY_ACCOUNT_PATTERN, type ProviderId } from '../../shared/domain/model';
import { PROVIDER_DEFINITIONS, PROVIDER_IDS, type ProviderRegistry } from '../../shared/providers';
import { InvalidRequestError } from './errors';

// zod/mini leaves the default messages to the application (the chainable API loads English itself):
// the checks without a message of their own keep their wording, e.g. "Invalid input: expected
// string, received number".
z.config(en());

/** The provider field of a registry with these ids (a runtime may serve more than the built-ins). */
export const providerIdSchema = <const T extends string>(ids: readonly T[]) =>
  z.enum(ids, { error: () => `must be one of ${ids.join(', ')}` });
export const providerSchema = providerIdSchema(PROVIDER_IDS);
/**
 * What every provider's account stays inside; `accountSyntaxCheck` then checks the provider's own
 * syntax (contract v1.1). For lightspeed-x and xentral both are the DNS-label rule of v1.0. Whether
 * a connect session needs the account at all is the domain's rule (ConnectService.createSession).
 */
export const accountSchema = z
  .string()
  .check(
    z.regex(
      ANY_ACCOUNT_PATTERN,
      'must be letters, digits and inner hyphens, at most 63 characters (the provider may allow less)',
    ),
  );

/** Checks `account` against the syntax of the object's `provider` (contract v1.1). */
function accountSyntaxCheck(providers: readonly { readonly id: string; readonly account: AccountSyntax }[]) {
  return z.superRefine((value: { provider: string; account?: string | undefined }, context) => {
    const syntax = providers.find((provider) => provider.id === value.provider)?.account;
    if (syntax === undefined || value.account === undefined) return;
    if (!syntax.pattern.test(value.account)) {
      context.issues.push({
        code: 'custom',
        path: ['account'],
        message: `must be ${syntax.syntax}`,
        input: value.account,
      });
    }
  });
}

/** `{provider}/{account}` of a route, with the built-ins' account rules. */
export const connectionPathSchema = z
  .object({ provider: providerSchema, account: z.string() })
  .check(accountSyntaxCheck(PROVIDER_DEFINITIONS));

const booleanFlag = z.pipe(
  z.enum(['true', 'false'], { error: () => 'must be true or false' }),
  z.transform((v) => v === 'true'),
);

/** The longest validity a caller may ask for: above a token's lifetime it would refresh on every call. */
export const MAX_MIN_VALID_SECONDS = 43_200;

const wholeNumber = (min: number, max: number) =>
  z
    .pipe(
      z.string().check(z.regex(/^\d{1,9}$/, `must be a whole number from ${min} to ${max}`)),
      z.transform(Number),
    )
    .check(z.refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`));

export const tokenQuerySchema = z.strictObject({
  min_valid_seconds: z._default(wholeNumber(0, MAX_MIN_VALID_SECONDS), 300),
  force_refresh: z._default(booleanFlag, false),
});

const printable = (max: number, min?: number) =>
  z.string().check(
    z.maxLength(max, `must be at most ${max} characters`),
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    z.regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters'),
    ...(min === undefined ? [] : [z.minLength(min, 'must not be empty')]),
  );

export const connectSessionBodySchema = z.strictObject({
  provider: providerSchema,
  /** v1.1: required where the provider needs the account before authorization (Shopify's shop). */
  account: z.optional(accountSchema),
  return_to: z.optional(
    z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }).check(z.maxLength(2048)),
  ),
  reference: z.optional(printable(256, 1)),
});

export const listQuerySchema = z.strictObject({
  provider: z.optional(providerSchema),
  status: z.optional(
    z.enum(['active', 'reauthorization_required', 'expired', 'expiring'], {
      error: () => 'must be active, reauthorization_required, expired or expiring',
    }),
  ),
  limit: z._default(wholeNumber(1, 100), 50),
  next_token: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
});

export const personalTokenBodySchema = z.strictObject({
  token: z
    .string({ error: 'is required and must be a string' })
    .check(
      z.minLength(8, 'must be at least 8 characters'),
      z.maxLength(4096, 'must be at most 4096 characters'),
      z.regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
    ),
  name: z.optional(printable(100, 1)),
  expires_at: z.optional(
    z.nullable(
      z.iso.datetime({
        offset: true,
        error: 'must be an ISO 8601 date-time such as 2027-01-31T00:00:00Z',
      }),
    ),
  ),
  /** Check the token with one cheap authenticated call to the provider before storing it. */
  verify: z.optional(z.boolean({ error: 'must be true or false' })),
});

/** Parses `input` with `schema`, naming the first bad field (prefixed with `where`) on failure. */
export function parseInput<S extends z.core.$ZodType>(
  schema: S,
  input: unknown,
  where?: string,
): z.output<S> {
  const result = z.safeParse(schema, input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  const field = [where, path].filter((part) => part !== undefined && part !== '').join('.') || 'request';
  let message = issue?.message ?? 'is invalid';
  if (issue?.code === 'unrecognized_keys') {
    return raise(
      where ?? 'request',
      `unknown ${where === 'query' ? 'parameter' : 'field'} ${issue.keys.map((k) => `"${k}"`).join(', ')}`,
    );
  }
  if (issue?.code === 'invalid_type' && valueAt(input, issue.path) === undefined) message = 'is required';
  return raise(field, message);
}

/** The value at `path` inside `input`, or undefined when any step is missing. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const step of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[step];
  }
  return value;
}

function raise(field: string, message: string): never {
  throw new InvalidRequestError(field, message);
}

/** Parses a JSON request body that must be an object; a clear 400 otherwise. */
export function parseJsonBody(body: string | undefined): unknown {
  if (body === undefined || body.trim() === '')
    throw new InvalidRequestError('body', 'a JSON object is required');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new InvalidRequestError('body', 'is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidRequestError('body', 'must be a JSON object');
  }
  return parsed;
}

/** The request schemas naming a provider, for the providers of a registry (the handlers build them once). */
export function providerRequestSchemas(registry: ProviderRegistry) {
  // The static type names the built-ins; a runtime's registry may hold more (tests add their own).
  const provider = providerIdSchema(Object.keys(registry) as ProviderId[]);
  return {
    // The provider's own syntax replaces the outer bound, so its message is the one a caller reads.
    connectionPath: z
      .object({ provider, account: z.string() })
      .check(accountSyntaxCheck(Object.values(registry))),
    connectSessionBody: z
      .extend(connectSessionBodySchema, { provider, account: z.optional(z.string()) })
      .check(accountSyntaxCheck(Object.values(registry))),
    listQuery: z.extend(listQuerySchema, { provider: z.optional(provider) }),
  };
}
