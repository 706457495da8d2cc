/**
 * A team's Express app with Gatehouse mounted: it publishes the HR portal
 * (only staff, MFA for payroll) and keeps its own status routes. The factory
 * takes gateway options so that its tests can turn on test mode; production
 * code never passes `testing`.
 *
 * In your app, import from the package: `from 'gatehouse'`.
 */
import express from 'express';
import { createGateway, type Gateway, type GatewayOptions } from 'gatehouse';

export interface PortalOptions {
  readonly identityProvider: { readonly issuer: string; readonly clientId: string; readonly clientSecret: string };
  /** At least 32 characters. */
  readonly sessionSecret: string;
  /** The HR portal's public origin, e.g. https://hr.example.com. */
  readonly hrUrl: string;
  /** Where the HR application is inside the network. */
  readonly hrInternalUrl: string;
  readonly gatewayOptions?: Omit<GatewayOptions, 'unknownHost'>;
}

export interface Portal {
  readonly app: express.Express;
  readonly gateway: Gateway;
}

export function createApp(options: PortalOptions): Portal {
  const gateway = createGateway(
    {
      identityProvider: options.identityProvider,
      session: { secrets: [{ id: 1, secret: options.sessionSecret }] },
      apps: [
        {
          id: 'hr',
          externalUrl: options.hrUrl,
          internalUrl: options.hrInternalUrl,
          // The HR application reads the user from this header.
          identityHeaders: { 'X-Remote-User': 'email' },
          policies: [
            { name: 'no contractors', conditions: { groups: { include: ['contractors'] } }, grant: { block: true } },
            { name: 'MFA for payroll', conditions: { paths: ['/payroll/'] }, grant: { mfa: true } },
          ],
        },
      ],
    },
    { ...options.gatewayOptions, unknownHost: 'next' },
  );
  const app = express();
  app.disable('x-powered-by');
  app.use(gateway.handler);
  app.get('/health', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/api/status', (_req, res) => {
    res.json({ portal: 'up', apps: gateway.config.apps.map((published) => published.id) });
  });
  return { app, gateway };
}
