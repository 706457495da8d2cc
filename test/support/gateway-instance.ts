import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway/create-gateway.ts';
import type { Stack } from './stack.ts';

export interface GatewayInstance {
  readonly gateway: Gateway;
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A second gateway instance beside the stack's: the same configuration and
 * clock, its own HTTPS server on 127.0.0.1 (a certificate for `hosts` from the
 * stack's CA) and its own process state; `options` give it its audit sink and
 * whatever else it does not share (e.g. a session store of its own).
 */
export async function startGatewayInstance(stack: Stack, hosts: string[], options: Omit<GatewayOptions, 'clock'>): Promise<GatewayInstance> {
  const certificate = stack.ca.issueServerCertificate(hosts);
  const server = createServer({ cert: certificate.certPem, key: certificate.keyPem });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const gateway = createGateway(stack.config, { clock: stack.clock, ...options });
  const app = express();
  app.use(gateway.handler);
  server.on('request', app);
  gateway.attach(server);
  await gateway.ready();
  return {
    gateway,
    server,
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await gateway.close();
    },
  };
}
