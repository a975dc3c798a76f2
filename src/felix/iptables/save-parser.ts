/**
 * Read-back: parse `iptables-save` output (nft and legacy print the same
 * format) and extract only what tabby owns:
 *   - its chains (`tabby-` prefix) with the hash tag of each rule, or `null`
 *     for a rule without one (someone else's rule inside our chain);
 *   - its hook rules in the built-in chains (rules carrying a `tabby:` tag),
 *     with their position and their text as printed, which is a valid spec to
 *     delete them with `-D`;
 *   - which of its chains are referenced from rules it does not own (such a
 *     chain cannot be deleted with `-X`).
 * Everything else is ignored: we compare tags, never the meaning of rules.
 */
import { HASH_COMMENT_PREFIX, OWNED_PREFIX } from './names.js';

export interface SavedRule {
  /** The rule as printed after `-A <chain> `. */
  spec: string;
  /** The tabby tag, or null when the rule carries none. */
  hash: string | null;
}

export interface SavedChain {
  name: string;
  /** `ACCEPT`/`DROP` for built-in chains, `-` for user chains. */
  policy: string;
  rules: SavedRule[];
}

export interface SavedTable {
  name: string;
  /** In the order iptables-save printed them. */
  chains: Map<string, SavedChain>;
}

export class SaveParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SaveParseError';
  }
}

const escapedPrefix = HASH_COMMENT_PREFIX.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The tag, quoted (iptables >= 1.4.21 always quotes) or not. */
const HASH_RE = new RegExp(`--comment "?${escapedPrefix}([A-Za-z0-9_-]+)"?(?:\\s|$)`);
const TARGET_RE = /(?:^|\s)-[jg]\s+(\S+)/;

export function ruleHashOf(spec: string): string | null {
  const m = HASH_RE.exec(spec);
  return m ? m[1]! : null;
}

export function ruleTargetOf(spec: string): string | undefined {
  return TARGET_RE.exec(spec)?.[1];
}

/** Parse a whole `iptables-save` dump (any number of tables). */
export function parseIptablesSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let current: SavedTable | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      // nft prints this when a table holds rules iptables-nft cannot express.
      if (/is incompatible/.test(line)) throw new SaveParseError(`line ${i + 1}: ${line.slice(1).trim()}`);
      continue;
    }
    if (line.startsWith('*')) {
      current = { name: line.slice(1), chains: new Map() };
      tables.set(current.name, current);
      continue;
    }
    if (line === 'COMMIT') {
      current = undefined;
      continue;
    }
    if (!current) throw new SaveParseError(`line ${i + 1}: ${JSON.stringify(line)} outside of a table`);
    if (line.startsWith(':')) {
      const m = /^:(\S+)\s+(\S+)/.exec(line);
      if (!m) throw new SaveParseError(`line ${i + 1}: bad chain line ${JSON.stringify(line)}`);
      if (!current.chains.has(m[1]!)) current.chains.set(m[1]!, { name: m[1]!, policy: m[2]!, rules: [] });
      continue;
    }
    // `iptables-save -c` prefixes rules with [packets:bytes].
    if (line.startsWith('[')) line = line.replace(/^\[\d+:\d+\]\s+/, '');
    const m = /^-A\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) throw new SaveParseError(`line ${i + 1}: unexpected ${JSON.stringify(line)}`);
    const chainName = m[1]!;
    const spec = m[2] ?? '';
    let chain = current.chains.get(chainName);
    if (!chain) {
      chain = { name: chainName, policy: '-', rules: [] };
      current.chains.set(chainName, chain);
    }
    chain.rules.push({ spec, hash: ruleHashOf(spec) });
  }
  return tables;
}

export interface HookRuleState {
  hash: string;
  /** Text that deletes exactly this rule after `-D <chain> `. */
  spec: string;
  /** 0-based position among all rules of the built-in chain. */
  index: number;
}

/** What tabby owns in one table, as read back (or as believed after a write). */
export interface OwnedTableState {
  /** tabby chain -> tag of each rule (null: a rule without a tag). */
  chains: Map<string, (string | null)[]>;
  /** built-in chain -> tabby's rules in it, in order. Absent or empty: none. */
  hooks: Map<string, HookRuleState[]>;
  /** tabby chains that rules tabby does not own jump or go to. */
  foreignRefs: Set<string>;
}

export function emptyOwnedState(): OwnedTableState {
  return { chains: new Map(), hooks: new Map(), foreignRefs: new Set() };
}

/** Extract what tabby owns from one parsed table (undefined: the table is absent, so nothing). */
export function ownedStateOf(table: SavedTable | undefined, prefix = OWNED_PREFIX): OwnedTableState {
  const state = emptyOwnedState();
  if (!table) return state;
  for (const chain of table.chains.values()) {
    const owned = chain.name.startsWith(prefix);
    if (owned) state.chains.set(chain.name, chain.rules.map((r) => r.hash));
    const builtin = chain.policy !== '-';
    const hooks: HookRuleState[] = [];
    chain.rules.forEach((r, index) => {
      if (builtin && r.hash !== null) hooks.push({ hash: r.hash, spec: r.spec, index });
      if (!owned && r.hash === null) {
        const target = ruleTargetOf(r.spec);
        if (target?.startsWith(prefix)) state.foreignRefs.add(target);
      }
    });
    if (hooks.length) state.hooks.set(chain.name, hooks);
  }
  return state;
}
