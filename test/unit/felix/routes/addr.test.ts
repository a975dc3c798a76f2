import assert from 'node:assert/strict';
import { AddressError, canonicalAddress, formatIPv6, ipv6Words, parsePrefix, prefixFromIpJson } from '../../../../src/felix/routes/addr.js';

describe('felix/routes addr', () => {
  it('formats IPv6 as glibc inet_ntop (and so iproute2) does', () => {
    const cases: Array<[string, string]> = [
      ['fd00:65:0:0:0:0:0:2', 'fd00:65::2'],
      ['FD00:0065::0002', 'fd00:65::2'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['1:0:0:0:0:0:0:0', '1::'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // tie: leftmost run
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'], // longest run, a single 0 stays
      ['2001:0:1:2:3:4:5:6', '2001:0:1:2:3:4:5:6'], // one zero group is not compressed
      ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
      ['::ffff:0102:0304', '::ffff:1.2.3.4'],
      ['::1.2.3.4', '::1.2.3.4'],
      ['fe80::ecee:eeff:feee:eeee', 'fe80::ecee:eeff:feee:eeee'],
    ];
    for (const [input, want] of cases) assert.equal(canonicalAddress(input), want, input);
  });

  it('parses every textual IPv6 form into eight groups', () => {
    assert.deepEqual(ipv6Words('::'), [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(ipv6Words('1::'), [1, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(ipv6Words('1:2:3:4:5:6:1.2.3.4'), [1, 2, 3, 4, 5, 6, 0x102, 0x304]);
    assert.deepEqual(ipv6Words('::ffff:10.0.0.1'), [0, 0, 0, 0, 0, 0xffff, 0x0a00, 1]);
    assert.equal(formatIPv6(ipv6Words('a:b:c:d:e:f:1:2')), 'a:b:c:d:e:f:1:2');
  });

  it('parses prefixes, bare addresses as host prefixes, and refuses host bits', () => {
    assert.deepEqual(parsePrefix('10.65.0.0/26'), { family: 4, address: '10.65.0.0', length: 26 });
    assert.deepEqual(parsePrefix('10.65.0.2'), { family: 4, address: '10.65.0.2', length: 32 });
    assert.deepEqual(parsePrefix('fd00:65:0::/122'), { family: 6, address: 'fd00:65::', length: 122 });
    assert.deepEqual(parsePrefix('fd00:65::2'), { family: 6, address: 'fd00:65::2', length: 128 });
    assert.throws(() => parsePrefix('10.65.0.1/26'), (e: unknown) => e instanceof AddressError && /host bits set \(network is 10\.65\.0\.0\/26\)/.test(e.message));
    assert.throws(() => parsePrefix('fd00::1/64'), /host bits set \(network is fd00::\/64\)/);
    assert.throws(() => parsePrefix('10.65.0.0/33'), /bad prefix length/);
    assert.throws(() => parsePrefix('10.65.0.0/'), /bad prefix length/);
    assert.throws(() => parsePrefix('nonsense/8'), /not an IP prefix/);
    assert.throws(() => parsePrefix('10.1.2.256/32'), /not an IP prefix/);
  });

  it('reads the dst of `ip -j route show`, whose family comes from the command', () => {
    assert.deepEqual(prefixFromIpJson('default', 4), { family: 4, address: '0.0.0.0', length: 0 });
    assert.deepEqual(prefixFromIpJson('default', 6), { family: 6, address: '::', length: 0 });
    assert.deepEqual(prefixFromIpJson('10.65.0.2', 4), { family: 4, address: '10.65.0.2', length: 32 });
  });
});
