/**
 * `npm run soak`: the chaos soak (docs/reliability.md). On loopback, made of
 * real parts: the gateway (in this process) with its state in a real
 * redis-server, two real `gatehouse-connector` processes in one group, a
 * backend process, the development identity provider. Steady signed-in load,
 * WebSockets and SHA-256-checked transfers run while a schedule kills and
 * restarts connectors, the backend, the identity provider and Redis; then
 * every outcome, leak count, memory, the store and the audit log are checked.
 *
 *   npm run soak [-- --quick]      full: about 5 minutes; --quick: under 60 s
 *   npm run soak -- --only 'kill both' --seconds 40     only the chaos steps whose name has that text
 *
 * Exit code 0 when every check passed, 1 otherwise. The last line on stdout is
 * `SOAK-SUMMARY {json}` with the figures.
 */
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startChild } from '../bench/lib/child.ts';
import { processMemory } from '../bench/lib/procfs.ts';
import { startRedisServer } from '../test/support/redis-server.ts';
import { backendProcess } from './lib/backend-process.ts';
import { schedule, runSchedule, type Parts } from './lib/chaos.ts';
import { CONNECTOR_GROUP, registerConnector, TUNNELS_PER_CONNECTOR, type SoakConnector } from './lib/connectors.ts';
import { CookieHeader, gatehouseCode, loopbackLookup } from './lib/http.ts';
import { startLoad } from './lib/load.ts';
import { describeOpenStreams, growth, settle, type Figures } from './lib/probes.ts';
import type { SoakAudit, SoakGatewayInfo } from './gateway.ts';
import { summarize, type Check } from './lib/summary.ts';
import { Tally } from './lib/tally.ts';
import { startWebSockets } from './lib/websockets.ts';
import { describeTunnels, lateDisconnects, type Kill, type TunnelState } from './lib/tunnel-report.ts';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, seconds: { type: 'string' } },
});
const quick = values.quick;
const MiB = 1024 * 1024;
const RSS_BOUND = 64 * MiB;
const WARM_UP_MS = quick ? 6_000 : 30_000;
const log = (line: string): void => void process.stderr.write(`soak: ${line}\n`);
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const began = Date.now();

log(`starting (${quick ? 'quick' : 'full'}): redis-server, backend, identity provider, gateway, two connectors`);
const redis = await startRedisServer({ persist: true });
const backend = await backendProcess();
const gatewayProcess = await startChild<SoakGatewayInfo>(
  fileURLToPath(new URL('gateway.ts', import.meta.url)),
  ['--backend', backend.url, '--redis', redis.url],
  { nodeArgs: ['--expose-gc'] },
);
const cloud = {
  ...gatewayProcess.info,
  adminToken: () => gatewayProcess.call<string>('adminToken'),
  signIn: () => gatewayProcess.call<string>('signIn'),
  signOut: (cookie: string) => gatewayProcess.call<void>('signOut', { cookie }),
  idpDown: () => gatewayProcess.call<void>('idpDown'),
  idpUp: () => gatewayProcess.call<void>('idpUp'),
};
const figures = (): Promise<Figures> => gatewayProcess.call<Figures>('figures');
const tunnelStates = (): Promise<TunnelState[]> => gatewayProcess.call<TunnelState[]>('tunnels');
const memoryAfterGc = (): Promise<NodeJS.MemoryUsage> => gatewayProcess.call<NodeJS.MemoryUsage>('memory');
const connectors: SoakConnector[] = [
  await registerConnector(cloud, 'connector-a', CONNECTOR_GROUP),
  await registerConnector(cloud, 'connector-b', CONNECTOR_GROUP),
];
await Promise.all(connectors.map((connector) => connector.run()));
// Ctrl-C: nothing the soak started outlives it (the gateway child goes with its IPC channel).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping everything`);
    void Promise.allSettled([...connectors.map((connector) => connector.kill()), backend.stop(), redis.close()]).then(() => process.exit(130));
  });
}
const runs = [1, 1];
const kills = [0, 0];
/** Each kill, by connector name, on the wall clock: the failure notes say how long before a failure it was. */
const killed: Kill[] = [];
const connectorNames = new Map<string, string>(connectors.map((connector) => [connector.id, connector.name]));
const ca = cloud.caPem;

/** One request with its own connection: status and Gatehouse error code. */
function probe(cookie: string, path = '/api/item/7'): Promise<{ status: number; code: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, cloud.origin), { ca, lookup: loopbackLookup, agent: false, headers: { accept: 'application/json', cookie } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: gatehouseCode(text) }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer to ${path} in 15 s`)));
    req.on('error', reject);
    req.end();
  });
}

const withTimeout = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no result in ${ms} ms`)), ms).unref())]);

const cookie = new CookieHeader(await cloud.signIn());
const leaverCookie = await cloud.signIn();
const notes: string[] = [];
const checks: Check[] = [];
let signedOut = false;

// Baseline: the gateway at rest with everything connected, before any load.
for (let n = 0; n < 5; n++) await probe(cookie.toString());
await pause(1_000);
const before: Figures = await figures();
const rssAtRest = (await memoryAfterGc()).rss;
log(`ready in ${((Date.now() - began) / 1000).toFixed(1)} s; gateway RSS after GC ${(rssAtRest / MiB).toFixed(1)} MiB; warming up for ${WARM_UP_MS / 1000} s`);

const loadOptions = {
  loops: quick ? 3 : 4,
  transferLoops: 1,
  transferBytes: (quick ? 2 : 4) * MiB,
  requestDeadlineMs: 30_000,
  transferDeadlineMs: 60_000,
};
// Warm-up: the same load without chaos, counted apart. The first seconds of load raise the gateway's RSS by tens of
// MiB (native buffers the allocator keeps for reuse) and then it stays level; a leak keeps growing. The memory check
// counts from the end of the warm-up, so it sees growth, not that first level; the summary shows both.
const warmTally = new Tally();
const warmLoad = startLoad({ origin: cloud.origin, ca, cookie }, loadOptions, warmTally);
const warmSockets = startWebSockets({ origin: cloud.origin, ca, cookie }, 3, warmTally);
await pause(WARM_UP_MS);
await Promise.all([warmLoad.stop(), warmSockets.stop()]);
checks.push({
  name: 'warm-up without chaos: every request succeeded',
  ok: warmTally.failureCount === 0 && warmTally.total() > 0,
  detail: `${warmTally.failureCount} failures of ${warmTally.total()}`,
});
await pause(1_000);
const memoryStart = await memoryAfterGc();
const rssStart = memoryStart.rss;
log(`warmed up: ${warmTally.total()} requests; gateway RSS after GC ${(rssStart / MiB).toFixed(1)} MiB; load starts`);

const tally = new Tally();
// What the gateway held when a request failed: a stream still in flight or a connection still open points at where it stuck.
// Which tunnels those were, and whether the gateway still counted a killed connector's tunnel as alive.
tally.onFailure = (failure) => {
  void Promise.all([figures(), tunnelStates()]).then(
    ([held, tunnels]) =>
      notes.push(
        `at ${(failure.atMs / 1000).toFixed(1)} s (${failure.what.slice(0, 60)}): gateway streams in flight ${held.streamsInFlight} on ${held.tunnelSessions} tunnels, server connections ${held.serverConnections}; tunnels: ${describeTunnels(tunnels, connectorNames, killed, Date.now())}`,
      ),
    () => undefined,
  );
};
let phase = 'steady';
const parts: Parts = {
  async killConnector(index) {
    kills[index] = (kills[index] ?? 0) + 1;
    killed.push({ connector: connectors[index]!.name, atMs: Date.now() });
    await connectors[index]!.kill();
  },
  async runConnector(index) {
    runs[index] = (runs[index] ?? 0) + 1;
    await connectors[index]!.run();
  },
  stopBackend: () => backend.stop(),
  startBackend: () => backend.start(),
  idpDown: () => cloud.idpDown(),
  idpUp: () => cloud.idpUp(),
  async signInWhileIdpDown() {
    const started = Date.now();
    try {
      await withTimeout(cloud.signIn(), 15_000, 'sign-in');
      notes.push('a sign-in while the identity provider was down succeeded (it should not have)');
      tally.fail('get', 'a sign-in while the identity provider was down succeeded');
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
      notes.push(`sign-in while the identity provider was down: refused in ${Date.now() - started} ms (${message.slice(0, 120)})`);
      if (/no result in/.test(message)) tally.fail('get', `sign-in while the identity provider was down hung: ${message}`);
    }
  },
  async signOutLeaver() {
    await cloud.signOut(leaverCookie);
    signedOut = true;
    const after = await probe(leaverCookie);
    notes.push(`signed-out session before the Redis restart: ${after.status} ${after.code ?? ''}`);
  },
  stopRedis: () => redis.stop(),
  startRedis: () => redis.start(),
};
const planned = schedule(parts, quick);
// --only TEXT keeps the chaos steps whose name contains TEXT (one step alone, to chase a finding); --seconds sets the load's length.
const chosen = values.only === undefined ? planned.steps : planned.steps.filter((step) => step.name.includes(values.only!));
// Chosen steps keep their spacing, the first 5 s into the load.
const shift = values.only === undefined ? 0 : (chosen[0]?.at ?? 5) - 5;
const plan = {
  steps: chosen.map((step) => ({ ...step, at: step.at - shift })),
  loadSeconds: values.seconds === undefined ? planned.loadSeconds : Number(values.seconds),
};
const load = startLoad({ origin: cloud.origin, ca, cookie }, loadOptions, tally);
const sockets = startWebSockets({ origin: cloud.origin, ca, cookie }, 3, tally);
const progress = setInterval(
  () =>
    log(
      `${(tally.now() / 1000).toFixed(0).padStart(4)} s  ${phase.padEnd(38)} requests ${tally.total()}  refused ${tally.refusedTotal()}  errors ${tally.failureCount}  gateway RSS ${(processMemory(gatewayProcess.pid).rss / MiB).toFixed(0)} MiB`,
    ),
  quick ? 3_000 : 10_000,
);
await runSchedule(plan.steps, tally, (now) => {
  phase = now;
  log(`${(tally.now() / 1000).toFixed(1).padStart(5)} s  chaos: ${now}`);
});
const rest = plan.loadSeconds * 1000 - tally.now();
if (rest > 0) await pause(rest);
phase = 'stopping the load';
await Promise.all([load.stop(), sockets.stop()]);
clearInterval(progress);
const loadSeconds = tally.now() / 1000;
log(`load stopped after ${loadSeconds.toFixed(0)} s: ${tally.total()} requests, ${tally.refusedTotal()} refused, ${tally.failureCount} errors; checking`);

// Every outcome allowed.
checks.push({
  name: 'every request succeeded or was refused clearly',
  ok: tally.failureCount === 0 && tally.total() > 0,
  detail: `${tally.failureCount} failures of ${tally.total()}`,
});

// Everything back: both connectors with all their tunnels.
const deadline = Date.now() + 20_000;
let now = await figures();
while (now.healthyTunnels < 2 * TUNNELS_PER_CONNECTOR && Date.now() < deadline) {
  await pause(250);
  now = await figures();
}
checks.push({ name: 'connectors back', ok: now.healthyTunnels === 2 * TUNNELS_PER_CONNECTOR, detail: `${now.healthyTunnels} healthy tunnels` });

// The store: the session of the whole run still valid after the Redis restart; the sign-out kept; a fresh sign-in works.
const kept = await probe(cookie.toString());
const leaver = await probe(leaverCookie);
let fresh: string;
try {
  const status = (await probe(await withTimeout(cloud.signIn(), 20_000, 'sign-in'))).status;
  fresh = String(status);
} catch (error) {
  fresh = error instanceof Error ? error.message.split('\n')[0]! : String(error);
}
checks.push({
  name: 'store intact after the Redis restart',
  ok: kept.status === 200 && (signedOut ? leaver.status === 401 : leaver.status === 200) && fresh === '200',
  detail: `session of the run ${kept.status}; ${signedOut ? 'signed-out' : 'second'} session ${leaver.status} ${leaver.code ?? ''}; fresh sign-in ${fresh}`,
});

// Leaks: wait for idle connections and keep-alive streams to close, then compare with the baseline.
const after = await settle(before, figures, 15_000);
const grown = growth(before, after);
if (after.streamsInFlight > 0)
  notes.push(
    `streams in flight at the baseline ${before.streamsInFlight}`,
    ...describeOpenStreams(before, 'at the baseline'),
    ...describeOpenStreams(after, 'at the end'),
  );
checks.push({
  name: 'no leaked stream, socket, timer or listener',
  ok: grown.length === 0 && after.streamsInFlight === 0,
  detail: grown.length
    ? grown.join('; ')
    : `streams in flight ${after.streamsInFlight}, connections ${after.serverConnections}, tunnel listeners ${after.tunnelListeners}, active resources ${Object.entries(
        after.resources,
      )
        .map(([type, count]) => `${type} ${count}`)
        .join(', ')}`,
});

const memoryEnd = await memoryAfterGc();
const rssEnd = memoryEnd.rss;
const mib = (bytes: number): string => (bytes / MiB).toFixed(1);
notes.push(
  `memory after GC, start → end: heap used ${mib(memoryStart.heapUsed)} → ${mib(memoryEnd.heapUsed)} MiB, heap total ${mib(memoryStart.heapTotal)} → ${mib(memoryEnd.heapTotal)} MiB, external ${mib(memoryStart.external)} → ${mib(memoryEnd.external)} MiB, array buffers ${mib(memoryStart.arrayBuffers)} → ${mib(memoryEnd.arrayBuffers)} MiB`,
);
checks.push({
  name: 'RSS within 64 MiB of its level after the warm-up, after GC',
  ok: rssEnd - rssStart < RSS_BOUND,
  detail: `${((rssEnd - rssStart) / MiB).toFixed(1)} MiB more`,
});

// The audit log: every tunnel of every connector run connected, every killed tunnel disconnected.
const audit = await gatewayProcess.call<SoakAudit>('audit');
const tunnelEvents = (type: string, id: string): number => audit.tunnelEvents.filter((event) => event.type === type && event.connectorId === id).length;
const auditDetail: string[] = [];
let auditOk = true;
connectors.forEach((connector, index) => {
  const connected = tunnelEvents('connector.connected', connector.id);
  const disconnected = tunnelEvents('connector.disconnected', connector.id);
  if (connected < runs[index]! * TUNNELS_PER_CONNECTOR || disconnected < kills[index]! * TUNNELS_PER_CONNECTOR) auditOk = false;
  auditDetail.push(`${connector.name}: connected ${connected} (runs ${runs[index]}), disconnected ${disconnected} (kills ${kills[index]})`);
});
const logouts = audit.counts['logout'] ?? 0;
const signins = audit.counts['signin.succeeded'] ?? 0;
if ((signedOut && logouts < 1) || signins < 3) auditOk = false;
auditDetail.push(`logout ${logouts}, signin.succeeded ${signins}`);
checks.push({ name: 'audit log has the events', ok: auditOk, detail: auditDetail.join('; ') });
// A killed connector's tunnels should be let go of at once (their connections close): one that took seconds was found by the heartbeat.
for (const late of lateDisconnects(audit.tunnelEvents, connectorNames, killed, tally.started, 2_000)) notes.push(`late tunnel disconnect: ${late}`);

const { text, figures: summary } = summarize(tally, checks, { mode: quick ? 'quick' : 'full', seconds: loadSeconds, rssAtRest, rssStart, rssEnd });
process.stdout.write(`${text}\n`);
if (notes.length) process.stdout.write(`\nNotes\n${notes.map((note) => `  ${note}`).join('\n')}\n`);
process.stdout.write(
  `Audit events by type: ${Object.entries(audit.counts)
    .map(([type, count]) => `${type} ${count}`)
    .join(', ')}\n`,
);

log('stopping');
await Promise.all(connectors.map((connector) => connector.stop()));
await gatewayProcess.stop();
await backend.stop();
await redis.close();
process.stdout.write(`SOAK-SUMMARY ${JSON.stringify({ ...summary, totalSeconds: Math.round((Date.now() - began) / 1000) })}\n`);
process.exitCode = summary.passed ? 0 : 1;
