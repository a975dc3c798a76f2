/**
 * The network configuration a runtime streams on stdin (SPEC.md §3
 * "Deriving execution configuration"), decoded and checked. Pure.
 *
 *   {"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "tabby",
 *    "nodeConfig": "/etc/tabby/node.yaml",
 *    "ipam": {"assign_ipv4": true, "assign_ipv6": false, "ipv4_pools": ["default-ipv4"]},
 *    "dns": {...}, "args": {"tabby": {"labels": {"app": "web"}}},
 *    "runtimeConfig": {...}, "prevResult": {...}}
 *
 * `ipam` takes Calico's key names (assign_ipv4/assign_ipv6 as booleans or
 * "true"/"false", ipv4_pools/ipv6_pools as pool names or CIDRs) so a Calico
 * config ports with few changes; IPAM is built in, so `ipam.type` may only be
 * absent or "tabby-ipam". A key tabby does not implement is an error
 * (code 2, naming key and value), never silently ignored.
 */
import { labelValueProblem, qualifiedNameProblem } from '../datastore/resources/fields.js';
import type { CniCommand } from './env.js';
import {
  CniError,
  ErrorCode,
  isSupportedVersion,
  parseDns,
  parseResult,
  SUPPORTED_VERSIONS,
  versionHasCheck,
  type CniVersion,
  type ResultDns,
  type SuccessResult,
} from './spec.js';

export interface IpamConf {
  assignIpv4: boolean;
  assignIpv6: boolean;
  /** Restrict allocation to these pools (names or CIDRs); empty = every pool selecting the node. */
  ipv4Pools: string[];
  ipv6Pools: string[];
}

export interface NetConf {
  cniVersion: CniVersion;
  name: string;
  type: string;
  /** Path of the node config; else TABBY_CONFIG, else /etc/tabby/node.yaml. */
  nodeConfig?: string;
  ipam: IpamConf;
  /** Workload labels from the runtime config `args.tabby.labels`. */
  labels: Record<string, string>;
  dns?: ResultDns;
  prevResult?: SuccessResult;
}

export const IPAM_TYPE = 'tabby-ipam';
const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Keys this plugin reads or that the protocol may insert; anything else is code 2. */
const TOP_LEVEL_KEYS = new Set(['cniVersion', 'name', 'type', 'nodeConfig', 'ipam', 'dns', 'args', 'runtimeConfig', 'prevResult', 'capabilities']);
const IPAM_KEYS = new Set(['type', 'assign_ipv4', 'assign_ipv6', 'ipv4_pools', 'ipv6_pools']);
const TABBY_ARGS_KEYS = new Set(['labels']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function unsupported(key: string, value: unknown): CniError {
  return new CniError(ErrorCode.UnsupportedField, `unsupported field in network configuration: ${key}=${show(value)}`, `tabby does not implement "${key}"`);
}

function invalid(what: string, why: string): CniError {
  return new CniError(ErrorCode.InvalidConfig, `invalid network configuration: ${what}`, why);
}

/** Decodes stdin: a JSON object, or code 6. */
export function decodeConfig(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new CniError(ErrorCode.DecodingFailure, 'failed to decode network configuration', `stdin is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(v)) throw new CniError(ErrorCode.DecodingFailure, 'failed to decode network configuration', 'stdin must hold a JSON object');
  return v;
}

/**
 * The version a config asks for, or code 1. An absent cniVersion reads as
 * "0.1.0" (libcni's rule), which this plugin does not speak.
 */
export function negotiateVersion(conf: Record<string, unknown>, command: CniCommand): CniVersion {
  const v = conf.cniVersion;
  if (v !== undefined && typeof v !== 'string') {
    throw new CniError(ErrorCode.DecodingFailure, 'failed to decode network configuration', `cniVersion must be a string (got ${show(v)})`);
  }
  const asked = v === undefined || v === '' ? '0.1.0' : v;
  if (!isSupportedVersion(asked)) {
    throw new CniError(ErrorCode.IncompatibleVersion, 'incompatible CNI versions', `config is "${asked}", plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`);
  }
  if (command === 'CHECK' && !versionHasCheck(asked)) {
    throw new CniError(ErrorCode.IncompatibleVersion, 'config version does not allow CHECK', `CHECK needs cniVersion 0.4.0 or later (config is "${asked}")`);
  }
  return asked;
}

function flag(v: unknown, key: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw invalid(key, `must be true or false (got ${show(v)})`);
}

function names(v: unknown, key: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '')) throw invalid(key, `must be a list of pool names or CIDRs (got ${show(v)})`);
  return v as string[];
}

function parseIpam(v: unknown): IpamConf {
  if (v === undefined) return { assignIpv4: true, assignIpv6: false, ipv4Pools: [], ipv6Pools: [] };
  if (!isObject(v)) throw invalid('ipam', `must be a JSON object (got ${show(v)})`);
  for (const [k, val] of Object.entries(v)) if (!IPAM_KEYS.has(k)) throw unsupported(`ipam.${k}`, val);
  if (v.type !== undefined && v.type !== IPAM_TYPE) {
    throw new CniError(
      ErrorCode.UnsupportedField,
      `unsupported field in network configuration: ipam.type=${show(v.type)}`,
      `tabby allocates from its own IPAM and delegates to no IPAM plugin: leave ipam.type out or set it to "${IPAM_TYPE}"`,
    );
  }
  const out: IpamConf = {
    assignIpv4: flag(v.assign_ipv4, 'ipam.assign_ipv4', true),
    assignIpv6: flag(v.assign_ipv6, 'ipam.assign_ipv6', false),
    ipv4Pools: names(v.ipv4_pools, 'ipam.ipv4_pools'),
    ipv6Pools: names(v.ipv6_pools, 'ipam.ipv6_pools'),
  };
  if (!out.assignIpv4 && !out.assignIpv6) throw invalid('ipam', 'at least one of assign_ipv4 and assign_ipv6 must be true');
  return out;
}

/** `args.tabby.labels`, checked as Kubernetes checks metadata.labels. Other `args` namespaces belong to other plugins. */
function parseLabels(args: unknown): Record<string, string> {
  if (args === undefined) return {};
  if (!isObject(args)) throw invalid('args', `must be a JSON object (got ${show(args)})`);
  const tabby = args.tabby;
  if (tabby === undefined) return {};
  if (!isObject(tabby)) throw invalid('args.tabby', `must be a JSON object (got ${show(tabby)})`);
  for (const [k, val] of Object.entries(tabby)) if (!TABBY_ARGS_KEYS.has(k)) throw unsupported(`args.tabby.${k}`, val);
  const labels = tabby.labels;
  if (labels === undefined) return {};
  if (!isObject(labels)) throw invalid('args.tabby.labels', `must be a JSON object of strings (got ${show(labels)})`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(labels)) {
    if (typeof val !== 'string') throw invalid(`args.tabby.labels.${k}`, `label values must be strings (got ${show(val)})`);
    const kp = qualifiedNameProblem(k);
    if (kp) throw invalid(`args.tabby.labels`, `label key ${JSON.stringify(k)}: ${kp}`);
    const vp = labelValueProblem(val);
    if (vp) throw invalid(`args.tabby.labels.${k}`, vp);
    out[k] = val;
  }
  return out;
}

/** Checks a decoded config for `command` (its version already negotiated). */
export function parseNetConf(conf: Record<string, unknown>, command: CniCommand): NetConf {
  const cniVersion = negotiateVersion(conf, command);
  for (const [k, v] of Object.entries(conf)) {
    if (!TOP_LEVEL_KEYS.has(k) && !k.startsWith('cni.dev/')) throw unsupported(k, v);
  }
  if (typeof conf.name !== 'string' || !NETWORK_NAME.test(conf.name)) {
    throw invalid('name', `must start with a letter or digit and contain only letters, digits, "_", "." and "-" (got ${show(conf.name)})`);
  }
  if (typeof conf.type !== 'string' || conf.type === '') throw invalid('type', `must name the plugin (got ${show(conf.type)})`);
  const out: NetConf = { cniVersion, name: conf.name, type: conf.type, ipam: parseIpam(conf.ipam), labels: parseLabels(conf.args) };
  if (conf.nodeConfig !== undefined) {
    if (typeof conf.nodeConfig !== 'string' || !conf.nodeConfig.startsWith('/')) throw invalid('nodeConfig', `must be an absolute path (got ${show(conf.nodeConfig)})`);
    out.nodeConfig = conf.nodeConfig;
  }
  if (conf.runtimeConfig !== undefined && !isObject(conf.runtimeConfig)) throw invalid('runtimeConfig', 'must be a JSON object');
  const dns = parseDns(conf.dns, 'dns');
  if (dns) out.dns = dns;
  if (conf.prevResult !== undefined && conf.prevResult !== null) out.prevResult = parseResult(conf.prevResult);
  if (command === 'CHECK' && !out.prevResult) throw invalid('prevResult', 'CHECK needs the prevResult of the ADD it checks');
  return out;
}

/** The node config file: the network config's `nodeConfig`, else TABBY_CONFIG, else the default (architecture.md, "CNI plugin"). */
export function nodeConfigPath(conf: NetConf, env: Record<string, string | undefined>): string {
  return conf.nodeConfig ?? (env.TABBY_CONFIG || '/etc/tabby/node.yaml');
}
