/**
 * Every state-changing console request must come from the console itself: a POST whose
 * form carries the signed-in session's CSRF token, whose Origin (when the browser sends
 * one) is the console's own, and which the browser does not call cross-site.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ConsoleSession } from './console-session.ts';

export type CsrfRefusal = 'csrf_missing' | 'csrf_mismatch' | 'origin_mismatch' | 'cross_site';

export function checkCsrf(req: IncomingMessage, form: URLSearchParams, session: ConsoleSession, origin: string): CsrfRefusal | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return 'cross_site';
  const sentOrigin = req.headers.origin;
  if (sentOrigin !== undefined && sentOrigin !== origin) return 'origin_mismatch';
  const tokens = form.getAll('csrf');
  if (tokens.length !== 1 || !tokens[0]) return 'csrf_missing';
  const given = Buffer.from(tokens[0]);
  const expected = Buffer.from(session.csrf);
  return given.length === expected.length && timingSafeEqual(given, expected) ? undefined : 'csrf_mismatch';
}
