// `npm start`: the whole of Gatehouse on this machine, on loopback.
import { join } from 'node:path';
import { startDemo } from './demo/demo-stack.ts';

const port = (name: string, fallback: number): number => {
  const value = process.env[name];
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    console.error(`gatehouse demo: ${name} must be a port number, not "${value}"`);
    process.exit(2);
  }
  return parsed;
};

const say = (line: string): void => {
  process.stderr.write(`gatehouse demo: ${line}\n`);
};

const dir = join(process.cwd(), '.gatehouse-demo');
const started = Date.now();
let demo;
try {
  demo = await startDemo({
    port: port('GATEHOUSE_DEMO_PORT', 8443),
    connectorPort: port('GATEHOUSE_DEMO_CONNECTOR_PORT', 8444),
    identityProviderPort: port('GATEHOUSE_DEMO_IDP_PORT', 8445),
    adminPort: port('GATEHOUSE_DEMO_ADMIN_PORT', 8446),
    dir,
    progress: say,
  });
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  say(`could not start: ${message}`);
  if (/EADDRINUSE/.test(message))
    say('a port is taken: set GATEHOUSE_DEMO_PORT, GATEHOUSE_DEMO_CONNECTOR_PORT, GATEHOUSE_DEMO_IDP_PORT or GATEHOUSE_DEMO_ADMIN_PORT');
  process.exit(1);
}

console.log(`
Gatehouse demo is running (started in ${((Date.now() - started) / 1000).toFixed(1)} s).

  Pre-authenticated app   ${demo.urls.wiki}/
      (sign-in with OpenID Connect, conditional access: staff only, MFA for /admin/)
  Pass-through app        ${demo.urls.status}/
  Identity provider       ${demo.urls.identityProvider}
  Admin console           ${demo.urls.console}
      (sign in as alice, the demo's admin; any other user gets "not an administrator")

Demo users:
${demo.users.map((user) => `  ${user.login.padEnd(8)} password ${user.password.padEnd(17)} ${user.note}`).join('\n')}

The certificates are made by a demo CA: ${demo.caFile}
Your browser will warn about them until you trust that file (or click through).
Audit events: ${join(dir, 'audit.jsonl')}

Press Ctrl-C to stop.
`);

await new Promise<void>((resolve) => {
  process.once('SIGINT', () => resolve());
  process.once('SIGTERM', () => resolve());
});
say('stopping');
await demo.stop();
say('stopped');
