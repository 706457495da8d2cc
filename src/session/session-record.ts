import { z } from 'zod';

/**
 * What the sealed session cookie holds: a small handle with
 * what the gate and policy need. Short keys keep the cookie small.
 */
export const sessionRecordSchema = z.strictObject({
  v: z.literal(1),
  k: z.literal('session'),
  sid: z.string().min(16).max(64),
  app: z.string().min(1).max(63),
  sub: z.string().min(1).max(255),
  name: z.string().max(256).optional(),
  email: z.string().max(320).optional(),
  /** The identity provider marked the email verified; absent means it did not (or said nothing). */
  ev: z.literal(1).optional(),
  /** Absent when the groups are kept server side (`gs`). */
  groups: z.array(z.string().max(256)).max(1000).optional(),
  gs: z.literal(1).optional(),
  amr: z.array(z.string().max(64)).max(16).optional(),
  acr: z.string().max(256).optional(),
  /** auth_time, epoch seconds; absent when the ID token did not say (unknown, never "now"). */
  at: z.number().int().nonnegative().optional(),
  iat: z.number().int().nonnegative(),
  exp: z.number().int().positive(),
  /** Last seen, epoch seconds; refreshed at most once per touch interval. */
  ls: z.number().int().nonnegative(),
  /** Digest of the identity provider's session id (the ID token's `sid`): a back-channel logout naming it ends this session. */
  is: z.string().min(16).max(64).optional(),
  /** Refreshable (session.refresh): `exp` is the session's cap; its ID token's expiry and refresh token are in the store. */
  rf: z.literal(1).optional(),
  /** Persistent cookie (Max-Age set). */
  p: z.literal(1).optional(),
  /** The ID-token claims the app's policies need, and only those. */
  c: z.record(z.string().max(64), z.union([z.string().max(1024), z.number(), z.boolean(), z.array(z.string().max(256)).max(100)])).optional(),
});

export type SessionRecord = z.infer<typeof sessionRecordSchema>;

export const transactionRecordSchema = z.strictObject({
  v: z.literal(1),
  k: z.literal('transaction'),
  app: z.string().min(1).max(63),
  state: z.string().min(16).max(128),
  nonce: z.string().min(16).max(128),
  verifier: z.string().min(43).max(128),
  /** The same-origin path to return to. */
  rt: z.string().min(1).max(2048),
  /** Created, epoch seconds. */
  c: z.number().int().nonnegative(),
  /** A step-up attempt, and why: its answer is not sent to the provider again if it still falls short. */
  su: z.enum(['mfa', 'sign_in_frequency']).optional(),
});

export type TransactionRecord = z.infer<typeof transactionRecordSchema>;
