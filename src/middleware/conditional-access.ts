import type { RequestHandler } from 'express';
import type { AccessControl } from '../access/access-control.ts';
import { conditionalAccessStep } from '../access/conditional-access.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { expressStep } from './express-step.ts';

/**
 * Conditional access, mounted. Allowed: on to the forwarder. Denied: a page (or JSON) saying what failed and what the
 * user can do. Fixable by signing in again: a navigation is sent to the step-up sign-in, anything else gets 401 with
 * its URL.
 */
export function conditionalAccess(access: AccessControl, audit: AuditLog): RequestHandler {
  return expressStep(conditionalAccessStep(access, audit), audit);
}
