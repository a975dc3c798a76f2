/**
 * The CNI specification's vocabulary (containernetworking/cni SPEC.md,
 * spec-v1.0.0): versions, error codes, the error type, and the Success
 * result in its internal form and in each supported version's wire form.
 * Pure: no I/O.
 */

/** The spec versions this plugin speaks, oldest first (SPEC.md §5 "Version"). */
export const SUPPORTED_VERSIONS = ['0.3.1', '0.4.0', '1.0.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: CniVersion = '1.0.0';

export function isSupportedVersion(v: unknown): v is CniVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** CHECK, and prevResult on DEL, came with 0.4.0 (SPEC.md "Released versions"). */
export function versionHasCheck(v: CniVersion): boolean {
  return v !== '0.3.1';
}

/**
 * Error codes: 1-99 are the spec's well-known errors (SPEC.md §5 "Error"),
 * 100+ are the plugin's own. 999 is what the reference plugins' skeleton
 * uses for an unexpected internal error.
 */
export const ErrorCode = {
  /** 1: the config's cniVersion is not one this plugin speaks (or forbids the command). */
  IncompatibleVersion: 1,
  /** 2: a field the plugin does not support; the message names key and value. */
  UnsupportedField: 2,
  /** 3: the container (its network namespace) is unknown; the runtime need not clean up. */
  UnknownContainer: 3,
  /** 4: missing or invalid CNI_* variables; the message names them. */
  InvalidEnvironment: 4,
  /** 5: could not read stdin. */
  IoFailure: 5,
  /** 6: stdin is not a JSON object. */
  DecodingFailure: 6,
  /** 7: the network config (or the node config it names) is invalid. */
  InvalidConfig: 7,
  /** 11: a transient condition (datastore unreachable, IPAM contention): retry. */
  TryAgainLater: 11,
  // ---- tabby's own ----
  /** IPAM could not give addresses (no pool for the node, pools exhausted). */
  IpamFailure: 100,
  /** Programming the kernel (veth, addresses, routes, sysctls) failed. */
  DataplaneFailure: 101,
  /** The datastore refused a read or write (other than being unreachable). */
  DatastoreFailure: 102,
  /** CHECK found the attachment missing or different from prevResult. */
  CheckFailed: 103,
  /** CNI_IFNAME exists in the container and is not this attachment's. */
  InterfaceExists: 104,
  Internal: 999,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error the plugin reports as the spec's error JSON. */
export class CniError extends Error {
  constructor(
    readonly code: ErrorCodeValue,
    /** Short, as the spec's `msg`. */
    msg: string,
    /** Longer, as the spec's `details`. */
    readonly details = '',
    options?: { cause?: unknown },
  ) {
    super(msg, options);
    this.name = 'CniError';
  }
}

/** The spec's error result (SPEC.md §5 "Error"). */
export interface ErrorResult {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export function errorResult(err: CniError, cniVersion: string): ErrorResult {
  return err.details ? { cniVersion, code: err.code, msg: err.message, details: err.details } : { cniVersion, code: err.code, msg: err.message };
}

// ---- Success result ---------------------------------------------------------

export interface ResultInterface {
  name: string;
  mac?: string;
  /** The netns path for container interfaces; absent for host interfaces. */
  sandbox?: string;
}

export interface ResultIp {
  /** CIDR, e.g. "10.65.1.2/32". */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export interface ResultRoute {
  dst: string;
  gw?: string;
}

export interface ResultDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** The Success result, version-independent (what 1.0.0 carries). */
export interface SuccessResult {
  interfaces: ResultInterface[];
  ips: ResultIp[];
  routes: ResultRoute[];
  dns?: ResultDns;
}

/** Family of an address in CIDR or plain form. */
export function familyOf(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

/**
 * The wire form of a result in `version`. 0.3.x and 0.4.0 carry
 * `ips[].version` ("4"/"6"); 1.0.0 dropped it (and the 0.x `version` field of
 * interfaces, which this plugin never wrote).
 */
export function encodeResult(result: SuccessResult, version: CniVersion): Record<string, unknown> {
  const ips = result.ips.map((ip) => {
    const out: Record<string, unknown> = version === '1.0.0' ? {} : { version: String(familyOf(ip.address)) };
    out.address = ip.address;
    if (ip.gateway !== undefined) out.gateway = ip.gateway;
    if (ip.interface !== undefined) out.interface = ip.interface;
    return out;
  });
  const out: Record<string, unknown> = {
    cniVersion: version,
    interfaces: result.interfaces.map((i) => ({ ...i })),
    ips,
  };
  if (result.routes.length > 0) out.routes = result.routes.map((r) => ({ ...r }));
  out.dns = result.dns ? { ...result.dns } : {};
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new CniError(ErrorCode.InvalidConfig, `invalid prevResult`, `${where}.${key} must be a string`);
  return v;
}

function stringList(v: unknown, where: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new CniError(ErrorCode.InvalidConfig, 'invalid prevResult', `${where} must be a list of strings`);
  return v as string[];
}

/**
 * Reads a `prevResult` (ADD in a chain, CHECK, DEL) of any supported version
 * into the internal form. 0.x's `ips[].version` is ignored: the address says.
 */
export function parseResult(value: unknown): SuccessResult {
  if (!isObject(value)) throw new CniError(ErrorCode.InvalidConfig, 'invalid prevResult', 'prevResult must be a JSON object');
  const listOf = (key: string): unknown[] => {
    const v = value[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new CniError(ErrorCode.InvalidConfig, 'invalid prevResult', `prevResult.${key} must be a list`);
    return v;
  };
  const interfaces = listOf('interfaces').map((i, n): ResultInterface => {
    const where = `prevResult.interfaces[${n}]`;
    if (!isObject(i) || typeof i.name !== 'string') throw new CniError(ErrorCode.InvalidConfig, 'invalid prevResult', `${where} needs a name`);
    const out: ResultInterface = { name: i.name };
    const mac = optString(i, 'mac', where);
    const sandbox = optString(i, 'sandbox', where);
    if (mac !== undefined) out.mac = mac;
    if (sandbox !== undefined) out.sandbox = sandbox;
    return out;
  });
  const ips = listOf('ips').map((ip, n): ResultIp => {
    const where = `prevResult.ips[${n}]`;
    if (!isObject(ip) || typeof ip.address !== 'string') throw new CniError(ErrorCode.InvalidConfig, 'invalid prevResult', `${where} needs an address`);
    const out: ResultIp = { address: ip.address };
    const gw = optString(ip, 'gateway', where);
    if (gw !== undefined) out.gateway = gw;
    if (ip.interface !== undefined && ip.interface !== null) {
      if (!Number.isInteger(ip.interface) || (ip.interface as number) < 0) {
        throw new CniError(ErrorCode.InvalidConfig, 'invalid prevResult', `${where}.interface must be an index into interfaces`);
      }
      out.interface = ip.interface as number;
    }
    return out;
  });
  const routes = listOf('routes').map((r, n): ResultRoute => {
    const where = `prevResult.routes[${n}]`;
    if (!isObject(r) || typeof r.dst !== 'string') throw new CniError(ErrorCode.InvalidConfig, 'invalid prevResult', `${where} needs a dst`);
    const gw = optString(r, 'gw', where);
    return gw === undefined ? { dst: r.dst } : { dst: r.dst, gw };
  });
  const result: SuccessResult = { interfaces, ips, routes };
  const dns = parseDns(value.dns, 'prevResult.dns');
  if (dns) result.dns = dns;
  return result;
}

/** The `dns` dictionary (network config and results share its shape). */
export function parseDns(v: unknown, where: string): ResultDns | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new CniError(ErrorCode.InvalidConfig, `invalid ${where}`, `${where} must be a JSON object`);
  const out: ResultDns = {};
  const ns = stringList(v.nameservers, `${where}.nameservers`);
  const search = stringList(v.search, `${where}.search`);
  const options = stringList(v.options, `${where}.options`);
  if (ns) out.nameservers = ns;
  if (typeof v.domain === 'string' && v.domain !== '') out.domain = v.domain;
  if (search) out.search = search;
  if (options) out.options = options;
  return Object.keys(out).length > 0 ? out : undefined;
}
