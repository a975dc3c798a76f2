import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { applyGtsm, connectNative, fdOf, ipv6Bytes, md5sigStruct, setMd5Key, sockaddr } from '../../../../src/bgp/net/sockopt.js';

function listen(): Promise<{ server: Server; port: number; got: string[] }> {
  const got: string[] = [];
  const server = createServer((s) => {
    s.on('data', (d) => got.push(d.toString()));
    s.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, got })));
}

function plainConnects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    const t = setTimeout(() => {
      c.destroy();
      resolve(false);
    }, 700);
    c.on('connect', () => {
      clearTimeout(t);
      c.destroy();
      resolve(true);
    });
    c.on('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

const send = (s: Socket, text: string) => new Promise<void>((r) => s.end(text, () => r()));

describe('socket options through libc (MD5, GTSM)', () => {
  it('encodes IPv6 addresses', () => {
    assert.equal(ipv6Bytes('::1').toString('hex'), '00000000000000000000000000000001');
    assert.equal(ipv6Bytes('fd00:10::2').toString('hex'), 'fd000010000000000000000000000002');
    assert.equal(ipv6Bytes('2001:db8:1:2:3:4:5:6').toString('hex'), '20010db8000100020003000400050006');
    assert.equal(ipv6Bytes('fe80::').toString('hex'), 'fe800000000000000000000000000000');
    assert.equal(ipv6Bytes('::ffff:10.0.0.1').toString('hex'), '00000000000000000000ffff0a000001');
  });

  it('lays out sockaddr and struct tcp_md5sig as linux/tcp.h', () => {
    assert.equal(sockaddr('10.0.0.1', 179).toString('hex'), '020000b30a0000010000000000000000');
    const m = md5sigStruct('10.0.0.2', 'key');
    assert.equal(m.length, 216);
    assert.equal(m.readUInt16LE(0), 2);
    assert.equal(m.readUInt16LE(130), 3);
    assert.equal(m.subarray(136, 139).toString(), 'key');
    assert.throws(() => md5sigStruct('10.0.0.2', 'x'.repeat(81)), /longer than 80/);
  });

  it('TCP MD5: keyed client connects; unkeyed and wrong-key clients are dropped', async () => {
    const { server, port, got } = await listen();
    try {
      setMd5Key(fdOf(server), '127.0.0.1', 's3cret');
      const s = await connectNative({ address: '127.0.0.1', port, md5Key: 's3cret', timeoutMs: 2000 });
      await send(s, 'hello');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(got, ['hello']);
      assert.equal(await plainConnects(port), false, 'a connection without the key must not get through');
      await assert.rejects(connectNative({ address: '127.0.0.1', port, md5Key: 'wrong', timeoutMs: 700 }), /failed/);
    } finally {
      server.close();
    }
  });

  it('GTSM: a listener at min TTL 255 drops TTL-64 clients and accepts TTL-255 ones', async () => {
    const { server, port, got } = await listen();
    try {
      applyGtsm(fdOf(server), 4, 1);
      assert.equal(await plainConnects(port), false, 'default TTL must be dropped');
      const s = await connectNative({ address: '127.0.0.1', port, ttlSecurity: 1, timeoutMs: 2000 });
      await send(s, 'ttl255');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(got, ['ttl255']);
    } finally {
      server.close();
    }
  });

  it('binds to a local address and reports refused connections', async () => {
    const { server, port } = await listen();
    server.close();
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(connectNative({ address: '127.0.0.1', port, localAddress: '127.0.0.1', md5Key: 'k', timeoutMs: 1000 }), /failed/);
  });
});
