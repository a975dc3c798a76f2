/** Shared helpers for the resource tests. */
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { formatProblem } from '../../../../src/config/yaml-validate.js';
import { parseResources, type Resource } from '../../../../src/datastore/resources/index.js';

/** Lines joined into a YAML text (one trailing newline), so line numbers are easy to read off. */
export const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

/** The formatted problems of a manifest text. */
export function problemsOf(text: string, file = 'r.yaml'): string[] {
  return parseResources(text, file).problems.map(formatProblem);
}

/** Parse text that must be valid; fails the test with the problems otherwise. */
export function parseOk(text: string, file = 'r.yaml'): Resource[] {
  const r = parseResources(text, file);
  assert.deepEqual(r.problems.map(formatProblem), [], 'expected no problems');
  return r.resources;
}

/** A manifest text from values (one document each). */
export function manifest(...docs: unknown[]): string {
  return docs.map((d) => stringify(d)).join('---\n');
}

/** A deep copy of `obj` with `value` placed at `path` (objects and arrays created as needed). */
export function withValue<T>(obj: T, path: (string | number)[], value: unknown): T {
  const copy = structuredClone(obj) as unknown as Record<string | number, unknown>;
  let cur: Record<string | number, unknown> = copy;
  path.forEach((seg, i) => {
    if (i === path.length - 1) {
      cur[seg] = value;
      return;
    }
    if (cur[seg] === undefined) cur[seg] = typeof path[i + 1] === 'number' ? [] : {};
    cur = cur[seg] as Record<string | number, unknown>;
  });
  return copy as unknown as T;
}

/** A small valid manifest of each kind, as a value. */
export const BASE: Record<Resource['kind'], Record<string, unknown>> = {
  IPPool: { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'pool-a' }, spec: { cidr: '10.65.0.0/16' } },
  BGPConfiguration: { apiVersion: 'projectcalico.org/v3', kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: {} },
  BGPPeer: { apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { peerIP: '10.0.0.1', asNumber: 65001 } },
  Node: { apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'node-1' }, spec: { bgp: { ipv4Address: '10.0.0.5/24' } } },
  NetworkPolicy: {
    apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'np', namespace: 'default' },
    spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] },
  },
  GlobalNetworkPolicy: {
    apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'gnp' },
    spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] },
  },
  WorkloadEndpoint: {
    apiVersion: 'projectcalico.org/v3', kind: 'WorkloadEndpoint', metadata: { namespace: 'default' },
    spec: { node: 'node-1', orchestrator: 'k8s', pod: 'web', endpoint: 'eth0', interfaceName: 'cali12345678901', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] },
  },
  HostEndpoint: { apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name: 'node-1-eth0' }, spec: { node: 'node-1', interfaceName: 'eth0' } },
  Profile: {
    apiVersion: 'projectcalico.org/v3', kind: 'Profile', metadata: { name: 'prof' },
    spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] },
  },
};
