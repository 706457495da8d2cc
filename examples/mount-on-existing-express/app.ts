/**
 * An existing Express app that publishes some hosts through Gatehouse and
 * keeps serving its own routes on its own host.
 *
 * It imports the package by name, as your app does: in this checkout
 * `gatehouse` resolves to the sources (package.json's `gatehouse-source`
 * condition).
 */
import express from 'express';
import { createGateway, type Gateway, type GatewayConfigInput, type GatewayOptions } from 'gatehouse';

export interface ExistingAppOptions {
  /** Your OpenID Connect provider (issuer, clientId, clientSecret …). */
  readonly identityProvider: GatewayConfigInput['identityProvider'];
  /** Secrets that seal session cookies, at least 32 characters each; the highest id seals. */
  readonly sessionSecrets: GatewayConfigInput['session']['secrets'];
  /** The hosts Gatehouse publishes, and where each one is inside the network. */
  readonly published: GatewayConfigInput['apps'];
  /** Anything else for createGateway: an audit sink, a logger, `testing: true` in your tests. */
  readonly gatewayOptions?: Omit<GatewayOptions, 'unknownHost'>;
}

export interface ExistingApp {
  readonly app: express.Express;
  readonly gateway: Gateway;
}

export function createApp(options: ExistingAppOptions): ExistingApp {
  const gateway = createGateway(
    { identityProvider: options.identityProvider, session: { secrets: options.sessionSecrets }, apps: options.published },
    // Requests for hosts Gatehouse does not publish fall through to the routes below.
    { ...options.gatewayOptions, unknownHost: 'next' },
  );

  const app = express();
  app.disable('x-powered-by');
  // First, at the root, before any body parser: a published host's request body
  // must reach the backend untouched, and nothing of yours runs before the gate.
  app.use(gateway.handler);

  // Everything below is the existing app, for its own host(s) only.
  app.use(express.json({ limit: '100kb' }));
  app.get('/health', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/api/own', (_req, res) => {
    res.json({ service: 'existing-app', message: 'served by the existing app, not by Gatehouse' });
  });
  app.post('/api/own/echo', (req, res) => {
    res.json({ received: req.body as unknown });
  });
  return { app, gateway };
}
