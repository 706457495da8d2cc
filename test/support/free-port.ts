/**
 * Ports for processes that must be told theirs up front (a gateway's
 * --workers base port, a Redis server, a demo on fixed ports).
 *
 * A port that was merely free a moment ago is not enough when the suite runs
 * in parallel: the kernel hands the same range out for every `listen(0)` and
 * every outgoing connection of the other test files, so a port chosen in a
 * `before` hook can be someone's client socket by the time the process binds
 * it. Ports here come from below the kernel's ephemeral range, which nothing
 * else on the machine takes by itself, and each is claimed with a file created
 * exclusively, so two test processes never pick the same one. Claims are
 * dropped when the process exits; a claim whose process is gone is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLAIMS = join(tmpdir(), 'gatehouse-test-ports');
const LOWEST = 10_000;
const claimed = new Set<number>();

/** The ports below the ephemeral range, or null when that range starts too low to leave any. */
function reservedRange(): { low: number; high: number } | null {
  let ephemeralLow = 32_768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // Not Linux: the IANA ephemeral range starts at 49152, and 32768 is below it on every common system.
  }
  return ephemeralLow - 1 > LOWEST + 1000 ? { low: LOWEST, high: ephemeralLow - 1 } : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims `port` for this process across every process on the machine; false when another live process holds it. */
function claim(port: number): boolean {
  const path = join(CLAIMS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      claimed.add(port);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner: number;
      try {
        owner = Number(readFileSync(path, 'utf8'));
      } catch {
        continue;
      }
      // An owner still writing its pid reads as 0: treat it as alive.
      if (owner === 0 || owner === process.pid || alive(owner)) return false;
      try {
        unlinkSync(path);
      } catch {
        // Another process took the stale claim over first; the next attempt says who won.
      }
    }
  }
  return false;
}

function unclaim(port: number): void {
  claimed.delete(port);
  try {
    unlinkSync(join(CLAIMS, String(port)));
  } catch {
    // Already gone.
  }
}

process.once('exit', () => {
  for (const port of claimed) unclaim(port);
});

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * `length` consecutive ports on 127.0.0.1, claimed for this process and free
 * now, returned as the first of them (a gateway's workers take base, base + 1…).
 */
export async function freePortRun(length: number): Promise<number> {
  const range = reservedRange();
  if (!range) {
    if (length !== 1) throw new Error('this machine leaves no port range outside the ephemeral one for consecutive test ports');
    return kernelPort();
  }
  mkdirSync(CLAIMS, { recursive: true, mode: 0o1777 });
  const span = range.high - range.low + 1 - length;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const base = range.low + Math.floor(Math.random() * span);
    const ports = Array.from({ length }, (_, index) => base + index);
    const taken: number[] = [];
    for (const port of ports) {
      if (!claim(port)) break;
      taken.push(port);
    }
    if (taken.length === length && (await Promise.all(ports.map(bindable))).every(Boolean)) return base;
    // Keep claims on ports something else has bound, so no one tries them again; give back the rest.
    for (const port of taken) if (await bindable(port)) unclaim(port);
  }
  throw new Error(`no ${length} consecutive free ports between ${range.low} and ${range.high}`);
}

/** A port on 127.0.0.1 that is free now and that no other test process will be handed. */
export function freePort(): Promise<number> {
  return freePortRun(1);
}
