/** The iptables library of the Felix dataplane: model, renderer, read-back, table driver. */
export * from './model.js';
export * from './names.js';
export * from './render.js';
export * from './hash.js';
export * from './save-parser.js';
export * from './plan.js';
export * from './runner.js';
export * from './backend.js';
export * from './table.js';
export * from './factory.js';
