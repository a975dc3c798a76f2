import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { Action, MatchCriteria, Rule } from '../../../../src/felix/iptables/model.js';
import { fitName, MAX_CHAIN_NAME, tabbyChainName, assertOwnedChainName } from '../../../../src/felix/iptables/names.js';
import { checkActionForTable, renderAction, renderMatch, renderRuleBody, RuleError, sanitizeComment } from '../../../../src/felix/iptables/render.js';

describe('felix/iptables render', () => {
  describe('actions (golden)', () => {
    const cases: [Action, string][] = [
      [{ type: 'accept' }, '-j ACCEPT'],
      [{ type: 'drop' }, '-j DROP'],
      [{ type: 'return' }, '-j RETURN'],
      [{ type: 'reject' }, '-j REJECT'],
      [{ type: 'reject', with: 'icmp-port-unreachable' }, '-j REJECT --reject-with icmp-port-unreachable'],
      [{ type: 'jump', target: 'tabby-FORWARD' }, '-j tabby-FORWARD'],
      [{ type: 'goto', target: 'tabby-tw-cali1' }, '-g tabby-tw-cali1'],
      [{ type: 'masquerade' }, '-j MASQUERADE'],
      [{ type: 'masquerade', fullyRandom: true }, '-j MASQUERADE --random-fully'],
      [{ type: 'snat', toSource: '172.31.0.1' }, '-j SNAT --to-source 172.31.0.1'],
      [{ type: 'dnat', toDestination: '10.65.0.2:8080' }, '-j DNAT --to-destination 10.65.0.2:8080'],
      [{ type: 'setMark', mark: 0x10000, mask: 0x10000 }, '-j MARK --set-mark 0x10000/0x10000'],
      [{ type: 'setMark', mark: 1 }, '-j MARK --set-mark 0x1/0xffffffff'],
      [{ type: 'setXmark', mark: 0, mask: 0x30000 }, '-j MARK --set-xmark 0x0/0x30000'],
      [{ type: 'log', prefix: 'tabby-drop: ' }, '-j LOG --log-prefix "tabby-drop: "'],
      [{ type: 'log', prefix: 'x', level: 5 }, '-j LOG --log-prefix "x" --log-level 5'],
      [{ type: 'notrack' }, '-j CT --notrack'],
    ];
    for (const [action, want] of cases) {
      it(`${action.type} -> ${want}`, () => assert.equal(renderAction(action), want));
    }
  });

  describe('matches (golden)', () => {
    it('renders every criterion in the canonical order', () => {
      const m: MatchCriteria = {
        // deliberately in a scrambled key order
        dstAddrType: 'LOCAL',
        sets: [
          { set: 'tabby-s-a', direction: 'src' },
          { set: 'tabby-s-b', direction: 'dst,dst', not: true },
        ],
        dstPorts: [80, [8000, 8080]],
        notSrcPorts: [22],
        notMark: { value: 0x10000, mask: 0x10000 },
        ctState: ['RELATED', 'ESTABLISHED'],
        outInterface: 'cali+',
        notInInterface: 'eth0',
        notDestination: '10.65.1.0/24',
        source: '10.65.0.0/16',
        protocol: 'tcp',
      };
      assert.equal(
        renderMatch(m).join(' '),
        '-p tcp -s 10.65.0.0/16 ! -d 10.65.1.0/24 ! -i eth0 -o cali+ -m conntrack --ctstate RELATED,ESTABLISHED ' +
          '-m mark ! --mark 0x10000/0x10000 -m set --match-set tabby-s-a src -m set ! --match-set tabby-s-b dst,dst ' +
          '-m multiport ! --sports 22 -m multiport --dports 80,8000:8080 -m addrtype --dst-type LOCAL',
      );
    });

    it('renders icmp and icmpv6 types', () => {
      assert.equal(renderMatch({ protocol: 'icmp', icmpType: { type: 8, code: 0 } }).join(' '), '-p icmp -m icmp --icmp-type 8/0');
      assert.equal(renderMatch({ protocol: 'ipv6-icmp', notIcmp6Type: { type: 128 } }, 6).join(' '), '-p ipv6-icmp -m icmp6 ! --icmpv6-type 128');
    });

    it('renders negated protocol, notCtState and mark', () => {
      assert.equal(renderMatch({ notProtocol: 'udp', notCtState: ['INVALID'], mark: { value: 4 } }).join(' '), '! -p udp -m conntrack ! --ctstate INVALID -m mark --mark 0x4/0xffffffff');
    });
  });

  describe('rule body', () => {
    it('is byte-identical whatever the key order of the input', () => {
      const a: Rule = { match: { protocol: 'udp', dstPorts: [53], source: '10.0.0.0/8' }, action: { type: 'accept' }, comment: 'dns' };
      const b: Rule = { comment: 'dns', action: { type: 'accept' }, match: { source: '10.0.0.0/8', dstPorts: [53], protocol: 'udp' } };
      assert.equal(renderRuleBody(a), renderRuleBody(b));
      assert.equal(renderRuleBody(a), '-p udp -s 10.0.0.0/8 -m multiport --dports 53 -m comment --comment "dns" -j ACCEPT');
    });

    it('sanitises comments from user data', () => {
      assert.equal(sanitizeComment('policy "x"\\y\nz é'), 'policy _x__y_z _');
      assert.equal(sanitizeComment('a'.repeat(300)).length, 255);
    });
  });

  describe('validation', () => {
    const bad: [string, MatchCriteria | Action][] = [
      ['ports without a port protocol', { dstPorts: [80] }],
      ['ports with icmp', { protocol: 'icmp', dstPorts: [80] }],
      ['too many port slots', { protocol: 'tcp', dstPorts: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, [15, 16]] }],
      ['port out of range', { protocol: 'tcp', dstPorts: [70000] }],
      ['reversed range', { protocol: 'tcp', dstPorts: [[90, 80]] }],
      ['bad CIDR', { source: '10.0.0.0/33' }],
      ['IPv6 in an IPv4 table', { source: 'fd00::/64' }],
      ['interface too long', { inInterface: 'a-very-long-interface' }],
      ['interface with a space', { inInterface: 'eth 0' }],
      ['source and notSource', { source: '10.0.0.1', notSource: '10.0.0.2' }],
      ['icmp6 type in IPv4', { protocol: 'icmp', icmp6Type: { type: 128 } }],
      ['bad set name', { sets: [{ set: 'bad name', direction: 'src' }] }],
      ['mark too large', { mark: { value: 2 ** 32 } }],
    ];
    for (const [why, m] of bad) {
      it(`refuses ${why}`, () => {
        assert.throws(() => ('type' in m ? renderAction(m as Action) : renderMatch(m as MatchCriteria)), RuleError);
      });
    }
    it('refuses bad actions', () => {
      assert.throws(() => renderAction({ type: 'log', prefix: 'x'.repeat(30) }), RuleError);
      assert.throws(() => renderAction({ type: 'log', prefix: 'a"b' }), RuleError);
      assert.throws(() => renderAction({ type: 'log', prefix: 'a', level: 9 }), RuleError);
      assert.throws(() => renderAction({ type: 'jump', target: 'x'.repeat(29) }), RuleError);
      assert.throws(() => renderAction({ type: 'reject', with: 'bad value' }), RuleError);
      assert.throws(() => renderAction({ type: 'snat', toSource: '1.2.3.4; rm' }), RuleError);
    });
    it('keeps NAT targets in nat and notrack in raw', () => {
      assert.throws(() => checkActionForTable({ type: 'masquerade' }, 'filter'), /only valid in the nat table/);
      assert.throws(() => checkActionForTable({ type: 'notrack' }, 'filter'), /only valid in the raw table/);
      assert.doesNotThrow(() => checkActionForTable({ type: 'masquerade' }, 'nat'));
      assert.doesNotThrow(() => checkActionForTable({ type: 'setMark', mark: 1 }, 'filter'));
    });
  });

  describe('names', () => {
    it('keeps short names and hashes long ones down to 28 characters', () => {
      assert.equal(tabbyChainName('FORWARD'), 'tabby-FORWARD');
      const long = tabbyChainName('pi-kube-system/allow-dns-from-everywhere');
      assert.equal(long.length, MAX_CHAIN_NAME);
      assert.ok(long.startsWith('tabby-pi-kube-s'), long);
      assert.equal(long, tabbyChainName('pi-kube-system/allow-dns-from-everywhere'), 'deterministic');
      assert.notEqual(long, tabbyChainName('pi-kube-system/allow-dns-from-everywhere2'), 'distinct names stay distinct');
      assert.equal(fitName('x'.repeat(40), 31).length, 31);
      // Unsafe characters are replaced, and the hash keeps such names distinct.
      assert.match(tabbyChainName('pi-ns/name with space'), /^tabby-pi-ns_name__[A-Za-z0-9_-]{10}$/);
      assert.notEqual(tabbyChainName('a b'), tabbyChainName('a_b'));
      assert.equal(tabbyChainName('a_b'), 'tabby-a_b');
    });
    it('checks ownership of chain names', () => {
      assert.throws(() => assertOwnedChainName('FORWARD'), /not owned/);
      assert.throws(() => assertOwnedChainName('tabby-' + 'x'.repeat(30)), /longer than 28/);
      assert.doesNotThrow(() => assertOwnedChainName('tabby-x'));
    });
  });
});
