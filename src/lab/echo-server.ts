/**
 * The lab's echo server, run inside a workload namespace:
 *   node echo-server.js NAME --tcp 8080,80 --udp 8081
 * Every TCP connection gets "NAME\n" and is closed; every UDP datagram is
 * answered with "NAME\n". Probes use the reply to prove who answered.
 */
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

function ports(flag: string): number[] {
  const i = process.argv.indexOf(flag);
  if (i < 0) return [];
  return (process.argv[i + 1] ?? '').split(',').filter(Boolean).map(Number);
}

const name = process.argv[2] ?? 'echo';
const reply = `${name}\n`;
let ready = 0;
const tcp = ports('--tcp');
const udp = ports('--udp');
const announce = () => {
  if (++ready === tcp.length + udp.length) process.stdout.write(`ready ${name} tcp=${tcp.join(',')} udp=${udp.join(',')}\n`);
};
for (const port of tcp) {
  const srv = createServer((sock) => {
    sock.on('error', () => undefined);
    sock.end(reply);
  });
  srv.listen({ port, host: '0.0.0.0' }, announce);
}
for (const port of udp) {
  const sock = createSocket('udp4');
  sock.on('message', (_msg, rinfo) => sock.send(reply, rinfo.port, rinfo.address));
  sock.on('error', () => undefined);
  sock.bind(port, '0.0.0.0', announce);
}
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
