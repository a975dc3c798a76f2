/**
 * Calico's label-selector language: parse, evaluate, canonicalise, compose.
 * See README.md in this directory for the grammar and semantics.
 */
export {
  ALL,
  GLOBAL,
  MAX_LABEL_KEY_LENGTH,
  and,
  collectLabelKeys,
  compare,
  has,
  inSet,
  isValidLabelKey,
  isWritableValue,
  mapLeaves,
  not,
  or,
  type SelectorNode,
  type SetOp,
  type ValueOp,
} from './ast.js';
export { SelectorSyntaxError } from './errors.js';
export { compile, type Labels, type Matcher } from './evaluate.js';
export { tokenize, type Token, type TokenKind } from './lexer.js';
export { canonicalText, normalize, render } from './normalize.js';
export { MAX_NESTING, parseSelectorAst, type ParseResult } from './parser.js';
export { SELECTOR_ID_LENGTH, Selector, parseSelector } from './selector.js';
export {
  LABEL_NAME,
  LABEL_NAMESPACE,
  LABEL_SERVICE_ACCOUNT,
  NAMESPACE_LABEL_PREFIX,
  SERVICE_ACCOUNT_LABEL_PREFIX,
  globalNetworkPolicyEndpointSelector,
  networkPolicyEndpointSelector,
  prefixKeys,
  ruleEndpointSelectors,
  ruleNamespaceSelector,
  type EntityRuleSelectors,
  type GlobalPolicySelectors,
  type PolicySelectors,
  type RuleEndpointSelectors,
  type ServiceAccountMatch,
} from './compose.js';
