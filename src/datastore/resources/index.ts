/**
 * Calico v3 resources: types, validation and manifest parsing.
 * See README.md in this directory for what is accepted, defaulted and
 * rejected, and why.
 */
export { API_VERSION } from './envelope.js';
export type { Metadata } from './metadata.js';
export { DEFAULT_NAMESPACE, IGNORED_METADATA_FIELDS } from './metadata.js';
export {
  BLOCK_SIZE_RANGE,
  DEFAULT_BLOCK_SIZE,
  ENCAP_MODES,
  ipPoolChangeProblem,
  ipPoolSchema,
  overlappingPools,
  type AllowedUse,
  type EncapMode,
  type IPPool,
  type IPPoolSpec,
} from './ippool.js';
export {
  BGP_CONFIGURATION_DEFAULTS,
  GLOBAL_BGP_CONFIGURATION,
  NODE_BGP_CONFIGURATION_PREFIX,
  NODE_OVERRIDABLE_FIELDS,
  bgpConfigurationSchema,
  communityValueProblem,
  effectiveBGPConfiguration,
  type BGPConfiguration,
  type BGPConfigurationSpec,
  type BindMode,
  type Community,
  type EffectiveBGPConfiguration,
  type PrefixAdvertisement,
} from './bgp-configuration.js';
export { bgpPeerSchema, parsePeerIP, type BGPPeer, type BGPPeerSpec, type NextHopMode, type ReversePeering, type SourceAddress } from './bgp-peer.js';
export { nodeSchema, type Node, type NodeAddressType, type NodeBGPSpec, type NodeSpec } from './node.js';
export {
  DEFAULT_TIER,
  LABEL_TIER,
  defaultPolicyTypes,
  globalNetworkPolicySchema,
  networkPolicySchema,
  type GlobalNetworkPolicy,
  type GlobalNetworkPolicySpec,
  type NetworkPolicy,
  type NetworkPolicySpec,
  type PolicyType,
} from './policy.js';
export { ACTIONS, ruleSchema, type Action, type EntityRule, type IcmpFields, type Rule } from './rule.js';
export {
  LABEL_NAMESPACE,
  LABEL_ORCHESTRATOR,
  hostEndpointSchema,
  profileSchema,
  workloadEndpointName,
  workloadEndpointSchema,
  type EndpointPort,
  type HostEndpoint,
  type HostEndpointSpec,
  type Profile,
  type ProfileSpec,
  type WorkloadEndpoint,
  type WorkloadEndpointSpec,
} from './endpoints.js';
export {
  CALICO_KINDS_NOT_IMPLEMENTED,
  KINDS,
  kindInfo,
  lookupKind,
  tableRows,
  type Column,
  type ColumnContext,
  type KindInfo,
  type Resource,
  type ResourceKind,
  type ResourceOfKind,
} from './registry.js';
export { describeKey, resourceKey, type ResourceKey } from './key.js';
export { formatProblems, loadResources, parseResources, validateResource, type ParseResult, type ResourceOrigin } from './parse.js';
export { NOT_IMPLEMENTED, UNIMPLEMENTED, type UnimplementedField, type UnimplementedId } from './unimplemented.js';
export { checkSelectorSyntax } from './selector-check.js';
export { PROTOCOL_NAMES, isNamedPort, parseRulePort, protocolHasPorts, type Protocol, type ProtocolName, type RulePort } from './fields.js';
export { parseGoDuration } from './duration.js';
export * as ip from './ip.js';
