import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { AllowEntryError, parseAllowEntry, parseAllowOption, TargetAllowList } from '../../../src/connector/allow-list.ts';
import { ConnectorArgumentError } from '../../../src/errors/connector-error.ts';
import { connectOrigin, OriginError } from '../../../src/connector/origin.ts';

describe('connector allow-list (--allow)', function () {
  describe('entries', function () {
    it('reads CIDRs, addresses, bracketed IPv6 and host names, each with an optional port', function () {
      assert.deepEqual(parseAllowEntry('10.0.0.0/8'), { kind: 'network', text: '10.0.0.0/8', address: '10.0.0.0', prefix: 8, family: 'ipv4', port: undefined });
      assert.deepEqual(parseAllowEntry(' 10.0.0.5:8080 '), {
        kind: 'network',
        text: '10.0.0.5:8080',
        address: '10.0.0.5',
        prefix: 32,
        family: 'ipv4',
        port: 8080,
      });
      assert.deepEqual(parseAllowEntry('10.1.0.0/16:443'), {
        kind: 'network',
        text: '10.1.0.0/16:443',
        address: '10.1.0.0',
        prefix: 16,
        family: 'ipv4',
        port: 443,
      });
      assert.deepEqual(parseAllowEntry('fd00::/8'), { kind: 'network', text: 'fd00::/8', address: 'fd00::', prefix: 8, family: 'ipv6', port: undefined });
      assert.deepEqual(parseAllowEntry('[fd00::/8]:443'), { kind: 'network', text: '[fd00::/8]:443', address: 'fd00::', prefix: 8, family: 'ipv6', port: 443 });
      assert.deepEqual(parseAllowEntry('[fd00::1]'), { kind: 'network', text: '[fd00::1]', address: 'fd00::1', prefix: 128, family: 'ipv6', port: undefined });
      assert.deepEqual(parseAllowEntry('Wiki.Corp:443'), { kind: 'host', text: 'wiki.corp:443', host: 'wiki.corp', port: 443 });
      assert.deepEqual(parseAllowEntry('intranet'), { kind: 'host', text: 'intranet', host: 'intranet', port: undefined });
    });

    for (const bad of [
      '',
      '10.0.0.0/33',
      '10.0.0.5/8',
      '10.0.0',
      '300.1.1.1',
      'wiki.corp:0',
      'wiki.corp:65536',
      'wiki.corp:http',
      'wiki corp',
      'http://wiki.corp',
      '*.corp',
      '[wiki]:80',
      'fd00::/129',
      '[fd00::/8]/8',
      'a'.repeat(400),
    ]) {
      it(`refuses ${JSON.stringify(bad.slice(0, 20))} and says what is accepted`, function () {
        assert.throws(
          () => parseAllowEntry(bad),
          (error: unknown) => error instanceof AllowEntryError && /Give a CIDR or address/.test(error.message),
        );
      });
    }

    it('turns a bad --allow into a usage error (exit 2), and refuses an empty list', function () {
      assert.throws(() => parseAllowOption(['10.0.0.0/8', 'not a host']), ConnectorArgumentError);
      assert.throws(() => parseAllowOption([]), ConnectorArgumentError);
      assert.deepEqual(parseAllowOption(['10.0.0.0/8', '10.0.0.0/8', 'WIKI.corp']).texts, ['10.0.0.0/8', 'wiki.corp']);
    });
  });

  describe('matching', function () {
    const list = TargetAllowList.parse(['10.0.0.0/8:8080', '192.168.1.7', 'fd00::/8', 'Wiki.Corp:443', 'files.corp']);

    it("allows an address inside a network, on the entry's port only when it names one", function () {
      assert.equal(list.allowsHost('10.20.0.5', 8080), true);
      assert.equal(list.allowsHost('10.20.0.5', 22), false);
      assert.equal(list.allowsHost('192.168.1.7', 22), true);
      assert.equal(list.allowsHost('192.168.1.8', 80), false);
      assert.equal(list.allowsHost('fd00::5', 80), true);
      assert.equal(list.allowsHost('[fd00::5]', 80), true);
      assert.equal(list.allowsHost('fe80::1', 80), false);
    });

    it('refuses the usual SSRF targets that are not listed', function () {
      for (const [host, port] of [
        ['169.254.169.254', 80],
        ['127.0.0.1', 8080],
        ['10.0.0.1', 22],
        ['0.0.0.0', 8080],
        ['::1', 80],
      ] as const) {
        assert.equal(list.allowsHost(host, port), false, `${host}:${port}`);
      }
    });

    it('judges an IPv4-mapped IPv6 address as the IPv4 address it is', function () {
      assert.equal(list.allowsHost('::ffff:10.1.2.3', 8080), true);
      assert.equal(list.allowsHost('::ffff:169.254.169.254', 80), false);
      assert.equal(list.allowsAddress('::ffff:a01:203', 8080), true);
    });

    it('matches host names exactly, ignoring case, never as a suffix or by what they resolve to', function () {
      assert.equal(list.allowsHost('wiki.corp', 443), true);
      assert.equal(list.allowsHost('WIKI.CORP', 443), true);
      assert.equal(list.allowsHost('wiki.corp', 80), false);
      assert.equal(list.allowsHost('files.corp', 9999), true);
      assert.equal(list.allowsHost('evil.wiki.corp', 443), false);
      assert.equal(list.allowsHost('wiki.corp.evil', 443), false);
      assert.equal(list.allowsHost('localhost', 8080), false);
    });
  });

  describe('enforced before the connector dials (real sockets)', function () {
    let server: Server;
    let port: number;
    let accepted = 0;
    const sockets = new Set<Socket>();

    before(async function () {
      server = createServer((socket) => {
        accepted++;
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      port = (server.address() as AddressInfo).port;
    });

    after(async function () {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    async function refusal(internalUrl: string, allow: string[]): Promise<OriginError> {
      const before = accepted;
      try {
        const socket = await connectOrigin({ internalUrl }, { allowList: TargetAllowList.parse(allow), timeoutMs: 2000 });
        socket.destroy();
      } catch (error) {
        assert.ok(error instanceof OriginError, String(error));
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(accepted, before, 'no connection reached the address');
        return error;
      }
      assert.fail(`${internalUrl} was dialled`);
    }

    it('dials an address the list allows, and refuses one it does not without connecting', async function () {
      const socket = await connectOrigin({ internalUrl: `http://127.0.0.1:${port}/` }, { allowList: TargetAllowList.parse([`127.0.0.1:${port}`]) });
      socket.destroy();
      const refused = await refusal(`http://127.0.0.1:${port}/`, ['10.0.0.0/8']);
      assert.equal(refused.refusal, 'target_refused');
      assert.equal(refused.code, 'ERR_TARGET_NOT_ALLOWED');
      assert.equal((await refusal(`http://127.0.0.1:${port}/`, [`127.0.0.1:${port + 1}`])).refusal, 'target_refused');
    });

    it('checks every address a host name resolves to: localhost reaches 127.0.0.1 only if a network allows it', async function () {
      const socket = await connectOrigin({ internalUrl: `http://localhost:${port}/` }, { allowList: TargetAllowList.parse(['127.0.0.0/8']) });
      socket.destroy();
      assert.equal((await refusal(`http://localhost:${port}/`, ['10.0.0.0/8', 'wiki.corp'])).refusal, 'target_refused');
    });

    it('dials a host name the list names, as the name', async function () {
      const socket = await connectOrigin({ internalUrl: `http://LOCALHOST:${port}/` }, { allowList: TargetAllowList.parse([`localhost:${port}`]) });
      socket.destroy();
    });
  });
});
