#!/bin/sh
# Smoke test of the lab itself: real IPVS, real ipvsadm, per-namespace
# tables, and the missing `twos` scheduler of the 6.1 kernel.
set -e
. scripts/lab.d/guest-lib.sh
[ -e /proc/net/ip_vs ] || fail "no /proc/net/ip_vs"
ipvsadm -A -t 10.0.0.1:80 -s rr
ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 2
ipvsadm -A -u 10.0.0.1:53 -s mh -b mh-port
ipvsadm -A -f 10 -s wrr -p 60
ipvsadm -a -f 10 -r 10.0.1.2:0 -i -w 1
got=$(ipvsadm -Sn)
want='-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 2
-A -u 10.0.0.1:53 -s mh -b mh-port
-A -f 10 -s wrr -p 60
-a -f 10 -r 10.0.1.2:0 -i -w 1 --tun-type ipip'
assert_eq "$want" "$got" "ipvsadm -Sn"
if ipvsadm -A -t 10.0.0.2:80 -s twos 2>/dev/null; then fail "twos scheduler unexpectedly available"; fi
netns_add labA
ip netns exec labA ipvsadm -A -t 10.9.9.9:80 -s rr
assert_eq "" "$(ipvsadm -Sn | grep 10.9.9.9 || true)" "IPVS is per network namespace"
ipvsadm -C
pass
