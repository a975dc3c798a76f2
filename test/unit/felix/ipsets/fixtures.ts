/**
 * Real `ipset save` output captured on this machine (ipset 7.17) in a
 * throwaway network namespace: tabby sets of every modelled type, plus one
 * foreign set that must be ignored.
 */
export const IPSET_SAVE = `create KUBE-FOREIGN hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0xb7b5ada6
add KUBE-FOREIGN 192.168.1.1
create tabby-s-a hash:ip family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x15745060
add tabby-s-a 10.65.0.2
add tabby-s-a 10.65.0.1
create tabby-n-pool hash:net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x68f47555
add tabby-n-pool 10.65.0.0/16
add tabby-n-pool 0.0.0.0/1
add tabby-n-pool 172.31.0.7
create tabby-np-web hash:net,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x6977ce33
add tabby-np-web 10.65.2.1,udp:53
add tabby-np-web 10.65.1.0/24,tcp:80
create tabby-6-pool hash:net family inet6 hashsize 1024 maxelem 1048576 bucketsize 12 initval 0xf4f65828
add tabby-6-pool fd00:65:1::1
add tabby-6-pool ::ffff:10.0.0.1
add tabby-6-pool fd00:65::/48
create tabby-l-all list:set size 8
add tabby-l-all tabby-s-a
add tabby-l-all tabby-n-pool
`;
