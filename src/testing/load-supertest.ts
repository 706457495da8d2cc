import type { Server } from 'node:http';
import type { Express } from 'express';
import type supertest from 'supertest';
import { importPeer } from './import-peer.ts';

export type Supertest = typeof supertest;

/** A supertest agent: keeps its default headers (Host, Cookie) and a cookie jar across requests. */
export type TestingAgent = ReturnType<Supertest['agent']>;

/** What the agents send requests to: your Express app, or the server that carries it. */
export type TestedApp = Express | Server;

/** A supertest agent whose requests carry `host` as their Host header. */
export async function agentFor(app: TestedApp, host: string): Promise<TestingAgent> {
  // supertest is the user's own (optional peer) dependency, loaded on first use.
  const { agent } = await importPeer('supertest', 'signedInAgent() and anonymousAgent()', async () => (await import('supertest')).default);
  return agent(app).host(host);
}
