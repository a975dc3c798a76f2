/** Felix calc: resources and routes in, desired host state out. Pure: nothing here calls the kernel. */
export * from './types.js';
export * from './input.js';
export * from './workloads.js';
export * from './routes.js';
export * from './encap.js';
export * from './nat.js';
export * from './policy.js';
export * from './desired.js';
