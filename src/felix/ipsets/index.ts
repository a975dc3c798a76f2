/** The ipset library of the Felix dataplane: model, canonical members, read-back, planning, driver. */
export * from './members.js';
export * from './model.js';
export * from './save-parser.js';
export * from './plan.js';
export * from './ipsets.js';
