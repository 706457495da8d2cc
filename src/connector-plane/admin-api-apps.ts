/**
 * `GET /.gatehouse/admin/apps` and `POST /.gatehouse/admin/apps/<id>/what-if`:
 * each published app as the console shows it (where, how it is reached, its
 * connector group's state, its policies in plain words), and the decision the
 * policy engine would take for facts the administrator names. Nothing here
 * changes state, so nothing is audited beyond the token check.
 */
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { stateWords, whatItAsks, whoItAppliesTo } from '../admin/console/policy-words.ts';
import { whatIf } from '../admin/console/what-if.ts';
import type { AppConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import { sendConnectorError } from '../errors/render-connector-plane.ts';
import type { AdminApiSource } from './admin-api-source.ts';
import type { GroupState } from './admin-api-groups.ts';

const NAME = z.string().trim().min(1).max(256);

export const whatIfBody = z.strictObject({
  user: NAME,
  groups: z.array(NAME).max(50).default([]),
  ip: z.union([z.ipv4(), z.ipv6()]).default('127.0.0.1'),
  mfa: z.boolean().default(false),
  path: z.string().max(2048).regex(/^\//, 'must start with "/"').default('/'),
});

export function appView(app: AppConfig, group: GroupState): Record<string, unknown> {
  return {
    id: app.id,
    externalUrl: app.externalUrl,
    preauth: app.preauth,
    connectorGroup: app.connectorGroup,
    group,
    policies: app.policies.map((policy) => ({
      name: policy.name,
      state: policy.state,
      stateWords: stateWords(policy),
      appliesTo: whoItAppliesTo(policy),
      asks: whatItAsks(policy),
    })),
  };
}

export function appsHandler(source: AdminApiSource, groupState: (group: string) => GroupState): RequestHandler {
  return (_req, res) => {
    const apps = source.config().apps.map((app) => appView(app, groupState(app.connectorGroup)));
    res.set('Cache-Control', 'no-store').json({ apps });
  };
}

export function whatIfHandler(
  source: AdminApiSource,
  now: () => number,
  badInput: (res: Parameters<RequestHandler>[1], issues: z.core.$ZodIssue[]) => void,
): RequestHandler {
  return (req, res) => {
    const config = source.config();
    const app = config.apps.find((candidate) => candidate.id === req.params['id']);
    if (!app) {
      sendConnectorError(res, new GatehouseError('ERR_NOT_FOUND', 'no_app'));
      return;
    }
    const body = whatIfBody.safeParse(req.body ?? {});
    if (!body.success) {
      badInput(res, body.error.issues);
      return;
    }
    if (app.preauth !== 'oidc') {
      // Nobody signs in to a pass-through app, so no policy is evaluated: every request is let through.
      res.set('Cache-Control', 'no-store').json({ app: app.id, input: body.data, effect: 'allow', reason: null, told: [], outcomes: [], passThrough: true });
      return;
    }
    const { decision, told } = whatIf(app, config, body.data, now());
    res.set('Cache-Control', 'no-store').json({
      app: app.id,
      input: body.data,
      effect: decision.effect,
      // The same words as the `access.denied` audit event's reason: policy:reason for each enforced policy that failed.
      reason: decision.failed.map((outcome) => `${outcome.policy}:${outcome.reason}`).join(' ') || null,
      told,
      outcomes: decision.outcomes.map(({ policy, state, applied, satisfied, reason, reasons }) => ({
        policy,
        state,
        applied,
        satisfied,
        reason,
        ...(reasons ? { reasons } : {}),
      })),
      passThrough: false,
    });
  };
}
