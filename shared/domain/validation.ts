/**
 * Request schemas (zod): the one place input is checked. A failure becomes an InvalidRequestError
 * whose message names the field, before anything is read, written or sent to a provider.
 */
import * as z from 'zod';
import { InvalidRequestError } from './errors';
import { PROVIDER_IDS } from './model';

/** The contract's account rule: a lower-case DNS label (it is put into a host name). */
export const ACCOUNT_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const providerSchema = z.enum(PROVIDER_IDS, {
  error: () => `must be one of ${PROVIDER_IDS.join(', ')}`,
});
export const accountSchema = z
  .string()
  .regex(ACCOUNT_PATTERN, 'must be a lower-case DNS label (a-z, 0-9, inner hyphens, at most 63 characters)');

export const connectionPathSchema = z.object({ provider: providerSchema, account: accountSchema });

const booleanFlag = z
  .enum(['true', 'false'], { error: () => 'must be true or false' })
  .transform((v) => v === 'true');

/** The longest validity a caller may ask for: above a token's lifetime it would refresh on every call. */
export const MAX_MIN_VALID_SECONDS = 43_200;

const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

export const tokenQuerySchema = z.strictObject({
  min_valid_seconds: wholeNumber(0, MAX_MIN_VALID_SECONDS).default(300),
  force_refresh: booleanFlag.default(false),
});

const printable = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters');

export const connectSessionBodySchema = z.strictObject({
  provider: providerSchema,
  return_to: z
    .url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' })
    .max(2048)
    .optional(),
  reference: printable(256).min(1, 'must not be empty').optional(),
});

export const listQuerySchema = z.strictObject({
  provider: providerSchema.optional(),
  status: z
    .enum(['active', 'reauthorization_required', 'expired', 'expiring'], {
      error: () => 'must be active, reauthorization_required, expired or expiring',
    })
    .optional(),
  limit: wholeNumber(1, 100).default(50),
  next_token: z.string().min(1).max(2048).optional(),
});

export const personalTokenBodySchema = z.strictObject({
  token: z
    .string({ error: 'is required and must be a string' })
    .min(8, 'must be at least 8 characters')
    .max(4096, 'must be at most 4096 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  name: printable(100).min(1, 'must not be empty').optional(),
  expires_at: z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 date-time such as 2027-01-31T00:00:00Z' })
    .nullable()
    .optional(),
  /** Check the token with one cheap authenticated call to the provider before storing it. */
  verify: z.boolean({ error: 'must be true or false' }).optional(),
});

/** Parses `input` with `schema`, naming the first bad field (prefixed with `where`) on failure. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where?: string): z.output<S> {
  const result = schema.safeParse(input);
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
