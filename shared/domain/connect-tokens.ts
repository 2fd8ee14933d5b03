/**
 * The connect flow's random values and what is derived from them: session ids, OAuth states,
 * browser-binding cookies and their hashes, PKCE verifiers and challenges.
 */
import { createHash, randomBytes } from 'node:crypto';

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();

/** 32 random bytes as base64url: 43 characters, 256 bits. */
export const randomToken = (): string => randomBytes(32).toString('base64url');

/** Whether `value` has the shape of a randomToken() (checked before any read). */
export const isConnectToken = (value: string): boolean => TOKEN_PATTERN.test(value);

/** What is stored of a browser binding: its SHA-256, so the table never holds the cookie value. */
export const bindingHash = (binding: string): string => sha256(binding).toString('base64url');

/** The cookie that binds one authorization attempt to the browser that started it. */
export const bindingCookieName = (state: string): string =>
  `tb_bind_${sha256(state).subarray(0, 9).toString('base64url')}`;

/** RFC 7636 S256: the challenge sent on the authorization request for a verifier. */
export const pkceChallenge = (verifier: string): string => sha256(verifier).toString('base64url');
