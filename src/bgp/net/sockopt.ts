/**
 * Socket options Node does not expose, through libc via koffi: TCP MD5
 * signatures (RFC 2385, TCP_MD5SIG) and TTL security (GTSM, RFC 5082:
 * IP_TTL/IPV6_UNICAST_HOPS 255 out, IP_MINTTL/IPV6_MINHOPCOUNT in).
 *
 * Passive side: options go on the listening socket's fd (one MD5 key per
 * peer address). Active side: the socket is created, keyed, bound and
 * connected in libc (connect runs on koffi's worker thread, bounded by
 * SO_SNDTIMEO, so the event loop never blocks), then handed to net.Socket.
 * Failing to install a key is an error, never a silent fallback to an
 * unkeyed connection (fail closed).
 *
 * koffi is loaded on first use only: most commands never need it.
 */
import { createRequire } from 'node:module';
import { isIPv4, isIPv6, Socket } from 'node:net';

const IPPROTO_IP = 0;
const IPPROTO_TCP = 6;
const IPPROTO_IPV6 = 41;
const SOL_SOCKET = 1;
const SO_SNDTIMEO = 21;
const SO_REUSEADDR = 2;
const TCP_MD5SIG = 14;
const IP_TTL = 2;
const IP_MINTTL = 21;
const IPV6_UNICAST_HOPS = 16;
const IPV6_MINHOPCOUNT = 73;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
/** TCP_MD5SIG_MAXKEYLEN (linux/tcp.h). */
export const MD5_MAX_KEY_LENGTH = 80;

interface Libc {
  setsockopt: (fd: number, level: number, name: number, val: Buffer, len: number) => number;
  socket: (domain: number, type: number, proto: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  connect: { async: (fd: number, addr: Buffer, len: number, cb: (err: unknown, rc: number) => void) => void };
  close: (fd: number) => number;
  errno: () => number;
}

let libc: Libc | undefined;
function lib(): Libc {
  if (libc) return libc;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as {
    load: (name: string) => { func: (sig: string) => unknown };
    errno: () => number;
  };
  const l = koffi.load('libc.so.6');
  libc = {
    setsockopt: l.func('int setsockopt(int, int, int, const void *, uint32_t)') as Libc['setsockopt'],
    socket: l.func('int socket(int, int, int)') as Libc['socket'],
    bind: l.func('int bind(int, const void *, uint32_t)') as Libc['bind'],
    connect: l.func('int connect(int, const void *, uint32_t)') as Libc['connect'],
    close: l.func('int close(int)') as Libc['close'],
    errno: () => koffi.errno(),
  };
  return libc;
}

export class SockoptError extends Error {
  constructor(what: string, readonly errno: number) {
    super(`${what} failed (errno ${errno}${errno === 12 ? ': ENOMEM, raise net.core.optmem_max' : errno === 1 ? ': EPERM, needs root/CAP_NET_ADMIN' : ''})`);
    this.name = 'SockoptError';
  }
}

/** struct sockaddr_in / sockaddr_in6, in host layout. */
export function sockaddr(ip: string, port: number): Buffer {
  if (isIPv4(ip)) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(port, 2);
    ip.split('.').forEach((o, i) => b.writeUInt8(Number(o), 4 + i));
    return b;
  }
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  ipv6Bytes(ip).copy(b, 8);
  return b;
}

/** The 16 bytes of an IPv6 address (handles "::" and embedded IPv4). */
export function ipv6Bytes(ip: string): Buffer {
  let s = ip;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    tail.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
    s = s.slice(0, -v4[1]!.length) + (s.endsWith('::' + v4[1]) ? '' : '0');
    if (s.endsWith(':0') && tail.length) s = s.slice(0, -2);
  }
  const [head, rest] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : [];
  const r = rest !== undefined ? rest.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : [];
  const groups = rest !== undefined ? [...h, ...new Array(8 - h.length - r.length - tail.length).fill(0), ...r, ...tail] : [...h, ...tail];
  const b = Buffer.alloc(16);
  groups.slice(0, 8).forEach((g, i) => b.writeUInt16BE(g & 0xffff, i * 2));
  return b;
}

/** struct tcp_md5sig (linux/tcp.h): sockaddr_storage(128), flags, prefixlen, keylen(u16), ifindex(u32), key[80]. */
export function md5sigStruct(peer: string, key: string): Buffer {
  const k = Buffer.from(key, 'utf8');
  if (k.length > MD5_MAX_KEY_LENGTH) throw new Error(`TCP MD5 key longer than ${MD5_MAX_KEY_LENGTH} bytes`);
  const b = Buffer.alloc(216);
  sockaddr(peer, 0).copy(b, 0);
  b.writeUInt16LE(k.length, 130);
  k.copy(b, 136);
  return b;
}

function familyOf(ip: string): 4 | 6 {
  return isIPv4(ip) ? 4 : 6;
}

/** Install (or, with an empty key, remove) the MD5 key for one peer on a socket. */
export function setMd5Key(fd: number, peer: string, key: string): void {
  const b = md5sigStruct(peer, key);
  if (lib().setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, b, b.length) !== 0) throw new SockoptError(`TCP_MD5SIG for ${peer}`, lib().errno());
}

function setInt(fd: number, level: number, name: number, value: number, what: string): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value, 0);
  if (lib().setsockopt(fd, level, name, b, 4) !== 0) throw new SockoptError(what, lib().errno());
}

/** Outgoing TTL / hop limit. */
export function setTtl(fd: number, family: 4 | 6, ttl: number): void {
  if (family === 4) setInt(fd, IPPROTO_IP, IP_TTL, ttl, 'IP_TTL');
  else setInt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl, 'IPV6_UNICAST_HOPS');
}

/** Drop incoming packets with a TTL below `min` (GTSM, RFC 5082 §3). */
export function setMinTtl(fd: number, family: 4 | 6, min: number): void {
  if (family === 4) setInt(fd, IPPROTO_IP, IP_MINTTL, min, 'IP_MINTTL');
  else setInt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, min, 'IPV6_MINHOPCOUNT');
}

/** GTSM for a peer `hops` away: send with TTL 255, accept only TTL >= 256 - hops. */
export function applyGtsm(fd: number, family: 4 | 6, hops: number): void {
  setTtl(fd, family, 255);
  setMinTtl(fd, family, 256 - hops);
}

/** The kernel fd of a listening net.Server or a net.Socket (Node keeps it in _handle). */
export function fdOf(handleOwner: object): number {
  const fd = (handleOwner as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('socket has no file descriptor yet');
  return fd;
}

export interface ConnectOptions {
  address: string;
  port: number;
  localAddress?: string;
  md5Key?: string;
  /** GTSM hops (RFC 5082). */
  ttlSecurity?: number;
  timeoutMs?: number;
}

/** Does this connection need the libc path (options that must be set before the SYN)? */
export function needsNativeConnect(o: ConnectOptions): boolean {
  return o.md5Key !== undefined || o.ttlSecurity !== undefined;
}

/**
 * Connect with options set before the SYN; resolves to a connected
 * net.Socket. A wrong MD5 key shows up as a timeout: the peer drops our SYNs.
 */
export function connectNative(o: ConnectOptions): Promise<Socket> {
  const l = lib();
  const family = familyOf(o.address);
  const fd = l.socket(family === 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Promise.reject(new SockoptError('socket()', l.errno()));
  try {
    if (o.md5Key !== undefined) setMd5Key(fd, o.address, o.md5Key);
    if (o.ttlSecurity !== undefined) applyGtsm(fd, family, o.ttlSecurity);
    setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1, 'SO_REUSEADDR');
    const ms = o.timeoutMs ?? 5000;
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
    tv.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
    if (l.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, 16) !== 0) throw new SockoptError('SO_SNDTIMEO', l.errno());
    if (o.localAddress) {
      const la = sockaddr(o.localAddress, 0);
      if (l.bind(fd, la, la.length) !== 0) throw new SockoptError(`bind to ${o.localAddress}`, l.errno());
    }
  } catch (err) {
    l.close(fd);
    return Promise.reject(err);
  }
  const sa = sockaddr(o.address, o.port);
  return new Promise((resolve, reject) => {
    l.connect.async(fd, sa, sa.length, (err, rc) => {
      if (err || rc !== 0) {
        const errno = l.errno();
        l.close(fd);
        reject(new Error(`connect to ${o.address}:${o.port} failed${errno === 115 || errno === 11 ? ': timed out' : errno === 111 ? ': connection refused' : ` (errno ${errno})`}`));
        return;
      }
      resolve(new Socket({ fd, readable: true, writable: true }));
    });
  });
}
