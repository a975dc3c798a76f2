/**
 * The node config: bootstrap settings of one host (contract: architecture.md,
 * "Node config"). `config/node.yaml` is the documented example and shows every
 * default; keep the two in step (a test checks that the example parses to the
 * defaults).
 */
import { z } from 'zod';
import { absolutePath, asNumber, cidr, ipAddress, port, resourceName, seconds } from './validators.js';
import { loadYamlFile } from './yaml-validate.js';

const tlsSchema = z.strictObject({
  caFile: absolutePath().optional(),
  certFile: absolutePath().optional(),
  keyFile: absolutePath().optional(),
});

const embeddedStore = z.strictObject({
  type: z.literal('embedded'),
  path: absolutePath().default('/var/lib/tabby/datastore'),
});

const etcdStore = z.strictObject({
  type: z.literal('etcd'),
  endpoints: z
    .array(z.string().regex(/^https?:\/\/[^\s/]+(:\d+)?\/?$/, { message: 'must be a URL such as http://10.0.0.5:2379' }))
    .min(1),
  tls: tlsSchema.optional(),
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  dialTimeout: seconds(1, 300).default(5),
  prefix: z.string().regex(/^\/[^\s]*$/, { message: 'must start with "/"' }).default('/tabby/v1'),
});

const datastoreSchema = z
  .discriminatedUnion('type', [embeddedStore, etcdStore], {
    error: (iss) => (iss.code === 'invalid_union' ? 'must be "embedded" or "etcd"' : undefined),
  })
  .prefault({ type: 'embedded' });

const logSchema = z
  .strictObject({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    format: z.enum(['auto', 'json', 'text']).default('auto'),
  })
  .prefault({});

const bgpSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    listenAddress: ipAddress().default('0.0.0.0'),
    listenPort: port().default(179),
  })
  .prefault({});

const metricsSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    address: ipAddress().default('127.0.0.1'),
    port: port().default(9091),
  })
  .prefault({});

const dataplaneSchema = z
  .strictObject({
    iptablesBackend: z.enum(['nft', 'legacy', 'auto']).default('nft'),
    resyncInterval: seconds(1, 86400).default(90),
    mtu: z.number().int('must be a whole number').min(576).max(9000).default(1440),
    routeProtocol: z.number().int('must be a whole number').min(18).max(252).default(80),
  })
  .prefault({});

export const nodeConfigSchema = z
  .strictObject({
    nodeName: resourceName(),
    address: cidr({ hostBits: true }).optional(),
    addressV6: cidr({ family: 6, hostBits: true }).optional(),
    interface: z.string().min(1).max(15).regex(/^[^\s/]+$/, { message: 'must be an interface name' }).optional(),
    asNumber: asNumber().optional(),
    routeReflectorClusterID: z
      .string()
      .regex(/^\d{1,3}(\.\d{1,3}){3}$/, { message: 'must be a dotted quad such as 244.0.0.1' })
      .optional(),
    controlSocket: absolutePath().optional(),
    secretsDir: absolutePath().default('/etc/tabby/secrets'),
    datastore: datastoreSchema,
    bgp: bgpSchema,
    log: logSchema,
    metrics: metricsSchema,
    dataplane: dataplaneSchema,
  })
  .transform((c) => ({ ...c, controlSocket: c.controlSocket ?? `/run/tabby/${c.nodeName}.sock` }));

export type NodeConfig = z.output<typeof nodeConfigSchema>;

export function loadNodeConfig(file: string): NodeConfig {
  return loadYamlFile(file, nodeConfigSchema);
}

/** The config file a command uses: --config, else TABBY_CONFIG, else the default path. */
export function resolveConfigPath(flag: string | undefined): string {
  return flag ?? process.env.TABBY_CONFIG ?? '/etc/tabby/node.yaml';
}
