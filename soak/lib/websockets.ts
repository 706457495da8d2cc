/**
 * A few WebSockets through the gateway with the session cookie, each sending
 * a numbered message every few hundred milliseconds and checking its echo.
 * A socket the gateway closes is opened again; how it was closed is judged:
 * a close frame from the gateway (1001, 1011, 1012, 1013: going away, error,
 * restart, try later) is clear; a socket dropped without one, an echo that
 * never comes or comes wrong, or a refused upgrade without a Gatehouse code
 * is a failure.
 */
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { gatehouseCode, loopbackLookup, type CookieHeader } from './http.ts';
import type { Tally } from './tally.ts';

const CLEAR_CLOSE_CODES = new Set([1001, 1011, 1012, 1013]);
const ECHO_DEADLINE_MS = 10_000;

export interface WebSocketLoad {
  stop(): Promise<void>;
}

export function startWebSockets(target: { origin: string; ca: string; cookie: CookieHeader }, count: number, tally: Tally): WebSocketLoad {
  let running = true;
  const sockets = new Set<WebSocket>();
  const url = `${target.origin.replace('https:', 'wss:')}/ws`;

  const session = (): Promise<void> =>
    new Promise((resolve) => {
      const socket = new WebSocket(url, { ca: target.ca, lookup: loopbackLookup, headers: { cookie: target.cookie.toString() }, perMessageDeflate: false });
      sockets.add(socket);
      let sent = 0;
      let echoed = 0;
      let ticker: NodeJS.Timeout | undefined;
      let watchdog: NodeJS.Timeout | undefined;
      let ended = false;
      let judgedAlready = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        clearInterval(ticker);
        clearTimeout(watchdog);
        sockets.delete(socket);
        resolve();
      };
      const armWatchdog = (): void => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          tally.fail('ws-message', `no echo of message ${echoed + 1} in ${ECHO_DEADLINE_MS} ms`);
          judgedAlready = true;
          socket.terminate();
        }, ECHO_DEADLINE_MS);
      };
      socket.on('unexpected-response', (_req, res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const code = gatehouseCode(text);
          if ((status === 502 || status === 503 || status === 504) && code !== undefined) tally.refused('ws-open', status, code);
          else tally.fail('ws-open', `upgrade answered ${status} ${code ?? text.slice(0, 80)}`);
          judgedAlready = true;
          socket.terminate();
          end();
        });
        res.on('error', () => {
          tally.fail('ws-open', `upgrade answer ${status(res)} cut`);
          end();
        });
      });
      socket.on('open', () => {
        tally.success('ws-open');
        ticker = setInterval(() => {
          if (socket.readyState !== WebSocket.OPEN) return;
          sent += 1;
          if (sent === echoed + 1) armWatchdog();
          socket.send(`message ${sent}`);
        }, 200);
      });
      socket.on('message', (data: Buffer) => {
        echoed += 1;
        if (data.toString('utf8') === `message ${echoed}`) tally.success('ws-message');
        else tally.fail('ws-message', `echo ${echoed} was "${data.toString('utf8').slice(0, 40)}"`);
        if (echoed < sent) armWatchdog();
        else clearTimeout(watchdog);
      });
      socket.on('error', (error) => {
        if (socket.readyState === WebSocket.CONNECTING && !ended) {
          tally.fail('ws-open', `upgrade failed without an answer: ${(error as NodeJS.ErrnoException).code ?? error.message}`);
          judgedAlready = true;
          end();
        }
      });
      socket.on('close', (code) => {
        if (judgedAlready) {
          // counted where it was cut
        } else if (!running && code === 1000) tally.success('ws-close');
        else if (CLEAR_CLOSE_CODES.has(code)) tally.refused('ws-close', code, 'close frame');
        else tally.cutBody('ws-close', `WebSocket closed with ${code}`);
        end();
      });
    });

  const status = (res: IncomingMessage): number => res.statusCode ?? 0;

  const loop = async (): Promise<void> => {
    while (running) {
      await session();
      if (running) await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };
  const loops = Array.from({ length: count }, () => loop());
  return {
    async stop() {
      running = false;
      for (const socket of sockets) socket.close(1000, 'soak done');
      await Promise.all(loops);
    },
  };
}
