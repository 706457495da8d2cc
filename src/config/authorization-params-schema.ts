import { z } from 'zod';
import { MAX_AUTHORIZATION_PARAM_NAME_CHARS, MAX_AUTHORIZATION_PARAM_VALUE_CHARS, MAX_AUTHORIZATION_PARAMS } from '../limits.ts';

/**
 * Authorization request parameters Gatehouse writes itself: the ones that bind the response to this browser and this
 * sign-in (state, nonce, PKCE), say where and how it comes back, and what is asked for (scopes have their own key,
 * `claims` carries the auth_time request). A configured one could weaken or break the sign-in, so none is accepted,
 * whatever its case (some providers read names case-insensitively).
 */
export const OWNED_AUTHORIZATION_PARAMS: readonly string[] = [
  'client_id',
  'response_type',
  'response_mode',
  'redirect_uri',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'request',
  'request_uri',
  'claims',
];

/** RFC 6749 appendix A: a parameter name is letters, digits, `-`, `.` and `_`. */
const PARAM_NAME = /^[A-Za-z0-9._-]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * `identityProvider.authorizationParams`: extra query parameters on every authorization request (`access_type`,
 * `domain_hint`, `audience`, …), name → value. Checked here once; the sign-in then only appends them.
 */
export const authorizationParamsSchema = z
  .record(
    z.string(),
    z
      .string()
      .min(1, 'must not be empty')
      .max(MAX_AUTHORIZATION_PARAM_VALUE_CHARS, `must be at most ${MAX_AUTHORIZATION_PARAM_VALUE_CHARS} characters`)
      .refine((value) => !CONTROL_CHARACTER.test(value), 'must not contain control characters'),
  )
  .superRefine((params, ctx) => {
    const names = Object.keys(params);
    if (names.length > MAX_AUTHORIZATION_PARAMS) {
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_AUTHORIZATION_PARAMS} parameters (${names.length} given)` });
    }
    for (const name of names) {
      if (OWNED_AUTHORIZATION_PARAMS.includes(name.toLowerCase())) {
        const why = name.toLowerCase() === 'scope' ? 'list scopes in "identityProvider.scopes"' : 'it is written by Gatehouse for every sign-in';
        ctx.addIssue({ code: 'custom', path: [name], message: `"${name}" cannot be set here: ${why}` });
      } else if (!PARAM_NAME.test(name) || name.length > MAX_AUTHORIZATION_PARAM_NAME_CHARS) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `"${name}" is not a parameter name: letters, digits, "-", "." and "_", at most ${MAX_AUTHORIZATION_PARAM_NAME_CHARS} characters`,
        });
      }
    }
  })
  .default({});
