/**
 * Small traffic tools the policy lab tests run inside namespaces:
 *
 *   node tools.js hold-server PORT          TCP server echoing every line back
 *   node tools.js hold-client IP PORT       one long-lived connection: sends a
 *                                           line every 100 ms, prints "reply N"
 *                                           for each echo, "closed" at the end
 *   node tools.js udp-gen IP PORTS MS       sends datagrams round-robin to PORTS
 *                                           for MS milliseconds, each from a new
 *                                           socket (so each is a NEW conntrack
 *                                           flow), then prints "sent N"
 */
import { createConnection, createServer } from 'node:net';
import { createSocket } from 'node:dgram';

const [mode, ...args] = process.argv.slice(2);

function holdServer(port: number): void {
  createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  }).listen(port, '0.0.0.0', () => process.stdout.write(`ready ${port}\n`));
}

function holdClient(ip: string, port: number): void {
  const s = createConnection({ host: ip, port });
  let n = 0;
  let buf = '';
  s.on('connect', () => {
    process.stdout.write('connected\n');
    const t = setInterval(() => s.write(`line ${n++}\n`), 100);
    s.on('close', () => clearInterval(t));
  });
  s.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      process.stdout.write(`reply ${buf.slice(0, i)}\n`);
      buf = buf.slice(i + 1);
    }
  });
  s.on('error', (e) => process.stdout.write(`error ${e.message}\n`));
  s.on('close', () => {
    process.stdout.write('closed\n');
    process.exit(0);
  });
}

async function udpGen(ip: string, ports: number[], ms: number): Promise<void> {
  const end = Date.now() + ms;
  let sent = 0;
  const payload = Buffer.from('x');
  while (Date.now() < end) {
    await Promise.all(
      ports.map(
        (port) =>
          new Promise<void>((resolve) => {
            const s = createSocket('udp4');
            s.on('error', () => undefined);
            s.send(payload, port, ip, () => {
              sent++;
              s.close();
              resolve();
            });
          }),
      ),
    );
  }
  process.stdout.write(`sent ${sent}\n`);
}

if (mode === 'hold-server') holdServer(Number(args[0]));
else if (mode === 'hold-client') holdClient(args[0]!, Number(args[1]));
else if (mode === 'udp-gen') void udpGen(args[0]!, args[1]!.split(',').map(Number), Number(args[2]));
else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
