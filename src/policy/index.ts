/**
 * The policy engine: Calico's NetworkPolicy / GlobalNetworkPolicy / Profile
 * semantics compiled to iptables chains and ipsets (see README.md).
 */
export * from './model.js';
export * from './names.js';
export * from './origin.js';
export * from './rules.js';
export * from './chains.js';
export * from './calc.js';
export * from './simulate.js';
export * from './explain.js';
export * from './dataplane.js';
export * from './diff.js';
export * from './render.js';
