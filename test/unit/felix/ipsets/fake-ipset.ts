/**
 * An in-memory `ipset` for unit tests, behind the CommandRunner seam:
 * `save`, and `restore` with create/add/del/swap/destroy. Like the real one,
 * a restore applies line by line and stops at the first error ("Error in line
 * N"), keeping what the earlier lines did; `swap` needs the same type and
 * family; `destroy` refuses a set that is referenced (by a test-declared
 * iptables rule, or as a member of a list:set).
 */
import type { CommandResult, CommandRunner } from '../../../../src/felix/iptables/runner.js';

export interface FakeSet {
  type: string;
  family: string | null;
  maxElem: number;
  members: Set<string>;
}

export class FakeIpset implements CommandRunner {
  sets = new Map<string, FakeSet>();
  /** Set names an iptables rule references (destroy fails). */
  readonly referenced = new Set<string>();
  readonly calls: { args: string[]; input?: string }[] = [];

  restores(): string[] {
    return this.calls.filter((c) => c.args[0] === 'restore').map((c) => c.input ?? '');
  }

  async run(cmd: string, args: readonly string[], input?: string): Promise<CommandResult> {
    this.calls.push({ args: [...args], ...(input !== undefined ? { input } : {}) });
    if (cmd !== 'ipset') return { code: 127, stdout: '', stderr: 'not found' };
    if (args[0] === 'save') return { code: 0, stdout: this.save(), stderr: '' };
    if (args[0] === 'restore') return this.restore(input ?? '');
    return { code: 1, stdout: '', stderr: `fake: unsupported ${args.join(' ')}` };
  }

  save(): string {
    const out: string[] = [];
    for (const [name, s] of this.sets) {
      out.push(
        s.type === 'list:set'
          ? `create ${name} list:set size ${s.maxElem}`
          : `create ${name} ${s.type} family ${s.family} hashsize 1024 maxelem ${s.maxElem} bucketsize 12 initval 0x12345678`,
      );
      for (const m of s.members) out.push(`add ${name} ${m}`);
    }
    return out.join('\n') + (out.length ? '\n' : '');
  }

  private inUse(name: string): boolean {
    if (this.referenced.has(name)) return true;
    for (const s of this.sets.values()) if (s.type === 'list:set' && s.members.has(name)) return true;
    return false;
  }

  private restore(input: string): CommandResult {
    const lines = input.split('\n');
    const fail = (i: number, why: string): CommandResult => ({ code: 1, stdout: '', stderr: `ipset v7.17: Error in line ${i + 1}: ${why}\n` });
    for (let i = 0; i < lines.length; i++) {
      const w = lines[i]!.trim().split(/\s+/);
      if (w[0] === '') continue;
      const [verb, name, arg] = w;
      const set = this.sets.get(name!);
      switch (verb) {
        case 'create': {
          if (set) return fail(i, 'Set cannot be created: set with the same name already exists');
          const opt = (k: string) => (w.indexOf(k) > 0 ? w[w.indexOf(k) + 1] : undefined);
          const list = arg === 'list:set';
          this.sets.set(name!, { type: arg!, family: list ? null : (opt('family') ?? 'inet'), maxElem: Number(list ? (opt('size') ?? 8) : (opt('maxelem') ?? 65536)), members: new Set() });
          break;
        }
        case 'add':
          if (!set) return fail(i, 'The set with the given name does not exist');
          if (set.members.has(arg!)) return fail(i, "Element cannot be added to the set: it's already added");
          if (set.type === 'list:set' && !this.sets.has(arg!)) return fail(i, 'Set to be added/deleted/tested as element does not exist.');
          set.members.add(arg!);
          break;
        case 'del':
          if (!set) return fail(i, 'The set with the given name does not exist');
          if (!set.members.delete(arg!)) return fail(i, "Element cannot be deleted from the set: it's not added");
          break;
        case 'swap': {
          const other = this.sets.get(arg!);
          if (!set || !other) return fail(i, 'The set with the given name does not exist');
          if (set.type !== other.type || set.family !== other.family) return fail(i, 'The sets cannot be swapped: their type does not match');
          this.sets.set(name!, other);
          this.sets.set(arg!, set);
          break;
        }
        case 'destroy':
          if (!set) return fail(i, 'The set with the given name does not exist');
          if (this.inUse(name!)) return fail(i, 'Set cannot be destroyed: it is in use by a kernel component');
          this.sets.delete(name!);
          break;
        default:
          return fail(i, `unknown command ${verb}`);
      }
    }
    return { code: 0, stdout: '', stderr: '' };
  }
}
