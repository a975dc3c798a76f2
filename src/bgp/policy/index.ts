/** Import/export policy compiled from the BGP config's filters (see ../rib/DESIGN.md, "Policy"). */
export { parseConfigCommunity, parseConfigLargeCommunity, prependAs, SetActions } from './actions.js';
export type { SetConfig } from './actions.js';
export { ACCEPT_ALL, CompiledPolicy, CompiledTerm, compileFilters, REJECT, REJECT_ALL } from './filter.js';
export { PrefixSet } from './prefix-set.js';
