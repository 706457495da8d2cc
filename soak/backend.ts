/**
 * The soak's backend, in a process of its own so that the soak can kill and
 * restart it: plain HTTP on a fixed loopback port (argv[2]), and a WebSocket
 * echo on any path. Routes:
 *   GET  /api/item/N       JSON naming N (the steady load's reads)
 *   POST /api/echo         the JSON body back, with its length (the steady load's writes)
 *   GET  /blob/BYTES       BYTES of the deterministic pattern (dev/lib/pattern-body.ts)
 *   PUT  /upload           reads the body, answers its SHA-256 and length
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { patternStream } from '../dev/lib/pattern-body.ts';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error('usage: node soak/backend.ts PORT');

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  const item = /^\/api\/item\/(\d+)$/.exec(url);
  if (req.method === 'GET' && item) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ item: Number(item[1]) }));
    return;
  }
  const blob = /^\/blob\/(\d+)$/.exec(url);
  if (req.method === 'GET' && blob) {
    const bytes = Number(blob[1]);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
    patternStream(bytes).pipe(res);
    return;
  }
  if ((req.method === 'POST' && url === '/api/echo') || (req.method === 'PUT' && url === '/upload')) {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
      if (url === '/api/echo') chunks.push(chunk);
    });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (url === '/upload') res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') }));
      else res.end(JSON.stringify({ bytes, echo: Buffer.concat(chunks).toString('utf8') }));
    });
    return;
  }
  res.statusCode = 404;
  res.end('not found');
});

const sockets = new WebSocketServer({ server });
sockets.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});

server.listen(port, '127.0.0.1', () => process.stdout.write(`soak backend listening on ${port}\n`));
process.once('SIGTERM', () => {
  for (const client of sockets.clients) client.terminate();
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
