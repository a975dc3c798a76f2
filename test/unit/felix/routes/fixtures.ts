/**
 * Output captured on this machine (iproute2 6.1.0, kernel 6.18) in a scratch
 * network namespace, for the parsers' unit tests. The batch that produced it
 * is FIXTURE_BATCH; caliDown was set down afterwards (its route went with it).
 */
export const FIXTURE_BATCH = `
route add 10.65.0.2/32 dev calia scope link table 254 metric 0 proto 80
route add blackhole 10.65.0.0/26 table 254 metric 0 proto 80
route add 10.65.1.0/26 via 172.31.9.2 table 254 metric 0 proto 80
route add 10.65.2.0/26 via 10.65.2.192 dev tunl0 onlink table 254 metric 0 proto 80
route add 10.70.0.0/24 table 254 metric 0 proto 80 nexthop via 172.31.9.2 dev eth0 weight 1 nexthop via 172.31.9.3 dev eth0 weight 2
route add 10.90.0.0/24 via 172.31.9.2 table 254 metric 0 tos 0x10 proto 80
route add 10.80.0.0/24 via 172.31.9.2 table 100 metric 0 proto 80
route add 10.65.0.3/32 dev caliDown scope link table 254 metric 0 proto 80
route add fd00:65::2/128 dev calia table 254 metric 1024 proto 80
route add blackhole fd00:65::/122 table 254 metric 1024 proto 80
route add fd00:70::/64 table 254 metric 1024 proto 80 nexthop via fd00:9::2 dev eth0 weight 1 nexthop via fd00:9::3 dev eth0 weight 1
route add fd00:71::/64 via fd00:9::2 table 254 metric 50 proto 80
route add 10.65.0.4/32 dev caliNope scope link table 254 metric 0 proto 80
route add 10.65.3.0/26 via 172.31.9.4 table 254 metric 32 proto 80
route del 10.91.0.0/24 table 254 metric 0 proto 80
route add 10.65.9.0/26 via 10.99.9.192 table 254 metric 0 proto 80
route add 10.65.5.0/26 via 172.31.9.4 table 254 metric 100 proto 80
`;

/** stderr of `ip -force -batch -` of FIXTURE_BATCH (exit 1). */
export const FIXTURE_BATCH_STDERR = `Cannot find device "caliNope"
Command failed -:13
RTNETLINK answers: File exists
Command failed -:14
RTNETLINK answers: No such process
Command failed -:15
Error: Nexthop has invalid gateway.
Command failed -:16
RTNETLINK answers: File exists
Command failed -:17
`;

/** `ip -N -j -4 route show table main`: ours (80), bird (12), static (4), the lab's (81), kernel (2). */
export const V4_MAIN_ALL = '[{"type":"6","dst":"10.65.0.0/26","protocol":"80","flags":[]},{"dst":"10.65.0.2","dev":"calia","protocol":"80","scope":"253","flags":[]},{"dst":"10.65.1.0/26","gateway":"172.31.9.2","dev":"eth0","protocol":"80","flags":[]},{"dst":"10.65.2.0/26","gateway":"10.65.2.192","dev":"tunl0","protocol":"80","flags":["onlink"]},{"dst":"10.65.3.0/26","gateway":"172.31.9.4","dev":"eth0","protocol":"12","metric":32,"flags":[]},{"dst":"10.65.4.0/26","gateway":"172.31.9.4","dev":"eth0","protocol":"4","flags":[]},{"dst":"10.65.5.0/26","gateway":"172.31.9.4","dev":"eth0","protocol":"81","metric":100,"flags":[]},{"dst":"10.70.0.0/24","protocol":"80","flags":[],"nexthops":[{"gateway":"172.31.9.2","dev":"eth0","weight":1,"flags":[]},{"gateway":"172.31.9.3","dev":"eth0","weight":2,"flags":[]}]},{"dst":"10.90.0.0/24","tos":"0x10","gateway":"172.31.9.2","dev":"eth0","protocol":"80","flags":[]},{"dst":"172.31.9.0/24","dev":"eth0","protocol":"2","scope":"253","prefsrc":"172.31.9.1","flags":[]}]';

/** `ip -N -j -4 route show table all proto 80` (iproute2 leaves "protocol" out). */
export const V4_ALL_PROTO80 = '[{"dst":"10.80.0.0/24","gateway":"172.31.9.2","dev":"eth0","table":"100","flags":[]},{"type":"6","dst":"10.65.0.0/26","flags":[]},{"dst":"10.65.0.2","dev":"calia","scope":"253","flags":[]},{"dst":"10.65.1.0/26","gateway":"172.31.9.2","dev":"eth0","flags":[]},{"dst":"10.65.2.0/26","gateway":"10.65.2.192","dev":"tunl0","flags":["onlink"]},{"dst":"10.70.0.0/24","flags":[],"nexthops":[{"gateway":"172.31.9.2","dev":"eth0","weight":1,"flags":[]},{"gateway":"172.31.9.3","dev":"eth0","weight":2,"flags":[]}]},{"dst":"10.90.0.0/24","tos":"0x10","gateway":"172.31.9.2","dev":"eth0","flags":[]}]';

/** `ip -N -j -6 route show table all proto 80`. */
export const V6_ALL_PROTO80 = '[{"dst":"fd00:65::2","dev":"calia","metric":1024,"flags":[],"pref":"medium"},{"type":"6","dst":"fd00:65::/122","dev":"lo","metric":1024,"flags":[],"pref":"medium"},{"dst":"fd00:70::/64","metric":1024,"flags":[],"pref":"medium","nexthops":[{"gateway":"fd00:9::2","dev":"eth0","weight":1,"flags":[]},{"gateway":"fd00:9::3","dev":"eth0","weight":1,"flags":[]}]},{"dst":"fd00:71::/64","gateway":"fd00:9::2","dev":"eth0","metric":50,"flags":[],"pref":"medium"}]';

/** `ip -j -4 route show table main` (names instead of numbers, no -N). */
export const V4_MAIN_NAMES = '[{"type":"blackhole","dst":"10.65.0.0/26","protocol":"80","flags":[]},{"dst":"10.65.0.2","dev":"calia","protocol":"80","scope":"link","flags":[]},{"dst":"10.65.1.0/26","gateway":"172.31.9.2","dev":"eth0","protocol":"80","flags":[]},{"dst":"10.65.2.0/26","gateway":"10.65.2.192","dev":"tunl0","protocol":"80","flags":["onlink"]},{"dst":"10.65.3.0/26","gateway":"172.31.9.4","dev":"eth0","protocol":"bird","metric":32,"flags":[]},{"dst":"10.65.4.0/26","gateway":"172.31.9.4","dev":"eth0","protocol":"static","flags":[]},{"dst":"10.65.5.0/26","gateway":"172.31.9.4","dev":"eth0","protocol":"81","metric":100,"flags":[]},{"dst":"10.70.0.0/24","protocol":"80","flags":[],"nexthops":[{"gateway":"172.31.9.2","dev":"eth0","weight":1,"flags":[]},{"gateway":"172.31.9.3","dev":"eth0","weight":2,"flags":[]}]},{"dst":"10.90.0.0/24","tos":"0x10","gateway":"172.31.9.2","dev":"eth0","protocol":"80","flags":[]},{"dst":"172.31.9.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"172.31.9.1","flags":[]}]';

/** stdout of `ip -j -force -batch -` with link show dev calia / caliNope (missing) / caliDown. */
export const LINK_BATCH_STDOUT = `[{"ifindex":5,"link":"wa","ifname":"calia","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1440,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"ee:ee:ee:ee:ee:ee","broadcast":"ff:ff:ff:ff:ff:ff"}]
[{"ifindex":9,"link":"wd","ifname":"caliDown","flags":["BROADCAST","MULTICAST","M-DOWN"],"mtu":1440,"qdisc":"noqueue","operstate":"DOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"ee:ee:ee:ee:ee:ee","broadcast":"ff:ff:ff:ff:ff:ff"}]
`;
export const LINK_BATCH_STDERR = `Device "caliNope" does not exist.
Command failed -:2
`;

/** `ip -4 -N -j route show table local type local` with 10.9.9.9/24 on calia. */
export const LOCAL_TABLE = '[{"type":"2","dst":"10.9.9.9","dev":"calia","protocol":"2","scope":"254","prefsrc":"10.9.9.9","flags":[]},{"type":"2","dst":"127.0.0.0/8","dev":"lo","protocol":"2","scope":"254","prefsrc":"127.0.0.1","flags":[]},{"type":"2","dst":"127.0.0.1","dev":"lo","protocol":"2","scope":"254","prefsrc":"127.0.0.1","flags":[]},{"type":"2","dst":"172.31.9.1","dev":"eth0","protocol":"2","scope":"254","prefsrc":"172.31.9.1","flags":[]}]';

/** `ip -4 -j -force -batch -` of `addr show dev calia`. */
export const ADDR_BATCH_V4 = `[{"ifindex":5,"link":"wa","ifname":"calia","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1440,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"addr_info":[{"family":"inet","local":"10.9.9.9","prefixlen":24,"scope":"global","label":"calia","valid_life_time":4294967295,"preferred_life_time":4294967295}]}]
`;

/** /proc/net/if_inet6 with fd00:99::1/64 on calia. */
export const IF_INET6 = `fe80000000000000502c28fffe42f85a 06 40 20 80     tunp
fe80000000000000eceeeefffeeeeeee 05 40 20 80    calia
fd000009000000000000000000000001 03 40 00 82     eth0
fd000099000000000000000000000001 05 40 00 82    calia
00000000000000000000000000000001 01 80 10 80       lo
fe80000000000000c0ef68fffe8cc9b8 04 40 20 80       wa
fe80000000000000681b81fffe908cf7 03 40 20 80     eth0
fe8000000000000070a999fffe15c1c3 07 40 20 80    tunl0
fe8000000000000094aa34fffedda72c 02 40 20 80    peer0
`;

/** `ip -N -j route show table all proto 80` (no -4/-6: both families), with default routes of both in tables 100/101. */
export const BOTH_ALL_PROTO80 = '[{"dst":"default","gateway":"172.31.9.254","dev":"eth0","table":"100","flags":[]},{"type":"6","dst":"default","table":"100","metric":5,"flags":[]},{"dst":"10.80.0.0/24","gateway":"172.31.9.2","dev":"eth0","table":"100","flags":[]},{"type":"6","dst":"10.65.0.0/26","flags":[]},{"dst":"10.65.0.2","dev":"calia","scope":"253","flags":[]},{"dst":"10.65.1.0/26","gateway":"172.31.9.2","dev":"eth0","flags":[]},{"dst":"10.65.2.0/26","gateway":"10.65.2.192","dev":"tunl0","flags":["onlink"]},{"dst":"10.70.0.0/24","flags":[],"nexthops":[{"gateway":"172.31.9.2","dev":"eth0","weight":1,"flags":[]},{"gateway":"172.31.9.3","dev":"eth0","weight":2,"flags":[]}]},{"dst":"10.90.0.0/24","tos":"0x10","gateway":"172.31.9.2","dev":"eth0","flags":[]},{"type":"6","dst":"default","dev":"lo","table":"100","metric":1024,"flags":[],"pref":"medium"},{"dst":"default","gateway":"fd00:9::254","dev":"eth0","table":"101","metric":1024,"flags":[],"pref":"medium"},{"dst":"fd00:65::2","dev":"calia","metric":1024,"flags":[],"pref":"medium"},{"type":"6","dst":"fd00:65::/122","dev":"lo","metric":1024,"flags":[],"pref":"medium"},{"dst":"fd00:70::/64","metric":1024,"flags":[],"pref":"medium","nexthops":[{"gateway":"fd00:9::2","dev":"eth0","weight":1,"flags":[]},{"gateway":"fd00:9::3","dev":"eth0","weight":1,"flags":[]}]},{"dst":"fd00:71::/64","gateway":"fd00:9::2","dev":"eth0","metric":50,"flags":[],"pref":"medium"}]';
