/**
 * The console's changes, each a POST already checked for its CSRF token and origin:
 * revoke a connector, move it to another group. They call the same connector service
 * methods as the admin API and are audited twice: by the lifecycle (connector.revoked,
 * connector.moved, with the admin) and as console actions with their request ids.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../../errors/index.ts';
import { CONNECTOR_GROUP_PATTERN } from '../../protocol/names.ts';
import type { ConsoleContext } from './console-context.ts';
import { CONSOLE_CONNECTORS } from './console-paths.ts';
import type { ConsoleSession } from './console-session.ts';
import { query } from './html.ts';
import { messagePage } from './pages/message-page.ts';
import { redirect, sendPage } from './respond.ts';

export type ConsoleAction = 'revoke' | 'move';

export async function runAction(
  action: ConsoleAction,
  req: IncomingMessage,
  res: ServerResponse,
  form: URLSearchParams,
  context: ConsoleContext,
  session: ConsoleSession,
  requestId: string,
): Promise<void> {
  const id = form.get('id') ?? '';
  const group = form.get('group') ?? '';
  const user = { sub: session.sub, name: session.name, email: session.email };
  const base = { type: 'admin.console_action' as const, user, clientIp: req.socket.remoteAddress, userAgent: req.headers['user-agent'], requestId };
  const details = { action, connectorId: id.slice(0, 128), ...(action === 'move' ? { group: group.slice(0, 64) } : {}) };
  try {
    if (!context.connectors) throw new GatehouseError('ERR_NOT_FOUND', 'no_connectors');
    if (action === 'move' && !CONNECTOR_GROUP_PATTERN.test(group)) throw new GatehouseError('ERR_BAD_REQUEST', 'invalid_group');
    if (action === 'revoke') await context.connectors.revoke(id, user);
    else await context.connectors.moveGroup(id, group, user);
  } catch (error) {
    if (!(error instanceof GatehouseError)) throw error;
    context.audit.emit({ ...base, outcome: 'failure', code: error.code, reason: error.reason, details });
    sendPage(res, 400, messagePage('Not done', `The connector was not changed: ${error.code} (${error.reason}).`, requestId, session));
    return;
  }
  context.audit.emit({ ...base, outcome: 'success', details });
  redirect(res, `${CONSOLE_CONNECTORS}${query({ done: action, id, group: action === 'move' ? group : undefined })}`);
}

/** The notice the connectors page shows after an action (its words are ours; the id is escaped where shown). */
export function actionNotice(params: URLSearchParams): string | undefined {
  const id = params.get('id')?.slice(0, 128);
  if (id === undefined) return undefined;
  if (params.get('done') === 'revoke') return `Connector ${id} was revoked.`;
  if (params.get('done') === 'move') return `Connector ${id} was moved to group ${params.get('group')?.slice(0, 64) ?? ''}.`;
  return undefined;
}
