import type { IncomingMessage } from 'node:http';
import { getRequestContext } from './context.ts';

/** The request facts every audit event carries. */
export function auditContext(req: IncomingMessage): {
  app: string | undefined;
  clientIp: string | undefined;
  userAgent: string | undefined;
  requestId: string | undefined;
} {
  const context = getRequestContext(req);
  return {
    app: context?.app?.id,
    clientIp: context?.clientIp,
    userAgent: context?.userAgent,
    requestId: context?.requestId,
  };
}
