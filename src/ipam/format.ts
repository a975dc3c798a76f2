/**
 * Text for people: `tabby ipam show` tables and the `tabby ipam check`
 * report with its exit code (0 clean, 1 with problems). Pure.
 */
import type { CheckReport } from './check.js';
import type { ShowData } from './show.js';

/** Left-aligned columns separated by three spaces, like `tabby get` tables. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function percent(used: number, size: number | bigint): string {
  const total = typeof size === 'bigint' ? size : BigInt(size);
  if (total === 0n) return '-';
  // Two significant decimals without floating point trouble on IPv6 sizes.
  const basisPoints = (BigInt(used) * 10000n) / total;
  const whole = basisPoints / 100n;
  const frac = (basisPoints % 100n).toString().padStart(2, '0');
  return `${whole}.${frac}%`;
}

export function formatShow(d: ShowData): string {
  const parts: string[] = [];
  if (d.address) {
    const a = d.address;
    const rows: [string, string][] = [
      ['address', a.ip],
      ['pool', a.pool ?? '(none)'],
      ['block', a.block ?? '(no block: free)'],
      ['block affinity', a.block ? (a.blockNode ?? '(none)') : '-'],
      ['allocated', a.allocated ? 'yes' : 'no'],
    ];
    if (a.allocated) {
      rows.push(['handle', a.handle ?? '']);
      for (const [k, v] of Object.entries(a.attrs).sort(([x], [y]) => (x < y ? -1 : 1))) rows.push([k, v]);
    }
    const w = Math.max(...rows.map(([k]) => k.length));
    return rows.map(([k, v]) => `${k.padEnd(w)}   ${v}`).join('\n');
  }
  parts.push('POOLS');
  parts.push(
    table(
      ['NAME', 'CIDR', 'BLOCK SIZE', 'SELECTOR', 'DISABLED', 'BLOCKS', 'IN USE', 'SIZE', 'USED'],
      d.pools.map((p) => [p.name, p.cidr, `/${p.blockSize}`, p.nodeSelector, p.disabled ? 'yes' : 'no', String(p.blocks), String(p.allocated), p.size, percent(p.allocated, BigInt(p.size))]),
    ),
  );
  parts.push('');
  parts.push('BLOCKS');
  if (d.blocks.length === 0) parts.push('(none)');
  else {
    parts.push(
      table(
        ['CIDR', 'POOL', 'AFFINITY', 'STATE', 'IN USE', 'FREE', 'BORROWED', 'USED'],
        d.blocks.map((b) =>
          b.malformed !== undefined
            ? [b.cidr, '-', '-', 'malformed', '-', '-', '-', '-']
            : [b.cidr, b.pool ?? '(none)', b.node ?? '(none)', b.node === null ? '-' : (b.affinityState ?? 'missing'), String(b.allocated), String(b.free), String(b.borrowed), percent(b.allocated, b.size)],
        ),
      ),
    );
  }
  parts.push('');
  parts.push(`strictAffinity: ${d.config.strictAffinity}   maxBlocksPerHost: ${d.config.maxBlocksPerHost === 0 ? 'unlimited' : d.config.maxBlocksPerHost}   autoAllocateBlocks: ${d.config.autoAllocateBlocks}`);
  return parts.join('\n');
}

export interface CheckFormatOptions {
  /** The command that applies the automatic fixes; when given, the report points at it. */
  repairCommand?: string;
}

/** The report and the exit code: 0 when clean, 1 with problems. */
export function formatCheck(r: CheckReport, opts: CheckFormatOptions = {}): { text: string; exitCode: 0 | 1 } {
  const c = r.counts;
  const summary = `checked ${c.blocks} block(s), ${c.affinities} affinit${c.affinities === 1 ? 'y' : 'ies'}, ${c.handles} handle(s), ${c.allocations} allocated address(es) in ${c.pools} pool(s) at revision ${r.revision}`;
  if (r.problems.length === 0) return { text: `${summary}: no problems found`, exitCode: 0 };
  const lines = [`${summary}: ${r.problems.length} problem(s)`, ''];
  r.problems.forEach((p, i) => {
    lines.push(`${i + 1}. [${p.kind}] ${p.message}`);
    lines.push(`   fix: ${p.fix}${p.repair ? ' [auto]' : ''}`);
  });
  const auto = r.problems.filter((p) => p.repair).length;
  if (auto > 0 && opts.repairCommand) {
    lines.push('');
    lines.push(`${auto} of these can be fixed automatically: run \`${opts.repairCommand}\` (each fix applies only if nothing changed since this check).`);
  }
  return { text: lines.join('\n'), exitCode: 1 };
}
