/**
 * Read-back: parse `ipset save` output, keeping only tabby's sets.
 *
 *   create tabby-a hash:ip family inet hashsize 1024 maxelem 1024 bucketsize 12 initval 0x85003235
 *   add tabby-a 10.0.0.2
 *   create tabby-l list:set size 8
 *   add tabby-l tabby-a
 *
 * Options tabby does not set (hashsize, bucketsize, initval, counters,
 * comment, timeout) are ignored. A set of a type tabby does not model is still
 * returned (with its type as printed), so it can be deleted if unwanted.
 */
import { OWNED_PREFIX } from '../iptables/names.js';
import type { IpFamily, IpSetType } from './members.js';
import { DEFAULT_LIST_SIZE, type IpSetState } from './model.js';

export class IpsetSaveParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpsetSaveParseError';
  }
}

export function parseIpsetSave(text: string, prefix = OWNED_PREFIX): Map<string, IpSetState> {
  const sets = new Map<string, IpSetState>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const words = line.split(/\s+/);
    const [verb, name] = words;
    if (!name) throw new IpsetSaveParseError(`line ${i + 1}: ${JSON.stringify(line)}`);
    if (!name.startsWith(prefix)) continue;
    if (verb === 'create') {
      const type = words[2] as IpSetType;
      const opt = (key: string): string | undefined => {
        const at = words.indexOf(key, 3);
        return at > 0 ? words[at + 1] : undefined;
      };
      const isList = type === 'list:set';
      const maxElem = Number(isList ? (opt('size') ?? DEFAULT_LIST_SIZE) : (opt('maxelem') ?? 65536));
      const family = isList ? null : ((opt('family') ?? 'inet') as IpFamily);
      // A type tabby does not model keeps its printed name: it never equals a wanted type, so it is replaced or deleted.
      sets.set(name, { meta: { type, family, maxElem }, members: new Set() });
    } else if (verb === 'add') {
      const set = sets.get(name);
      if (!set) throw new IpsetSaveParseError(`line ${i + 1}: add to ${name} before its create`);
      if (words[2] === undefined) throw new IpsetSaveParseError(`line ${i + 1}: add without a member`);
      set.members.add(words[2]);
    } else {
      throw new IpsetSaveParseError(`line ${i + 1}: unexpected ${JSON.stringify(verb)}`);
    }
  }
  return sets;
}
