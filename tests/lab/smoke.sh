#!/bin/sh
# Smoke test of the lab itself: the guest kernel has IPVS, the real ipvsadm
# programs it (TCP/UDP/fwmark/IPv6, DR/NAT/TUN, several schedulers with
# flags), `ipvsadm -Sn` prints exactly what was programmed, the 6.1 kernel
# has no `twos` scheduler, and IPVS tables are per network namespace.
set -e
. scripts/lab.d/guest-lib.sh

echo "kernel $(uname -r); $(ipvsadm --version 2>&1)"
[ -e /proc/net/ip_vs ] || fail "no /proc/net/ip_vs"
echo "IPVS modules loaded: $(cut -d' ' -f1 /proc/modules | grep '^ip_vs' | sort | tr '\n' ' ')"

# Every scenario gets a fresh netns, so the default table of the guest stays
# untouched (and is checked empty below).
netns_add smoke
ns() { ip netns exec smoke "$@"; }

ns ipvsadm -A -t 10.0.0.1:80 -s rr
ns ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 2
ns ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.2:8080 -m -w 1
ns ipvsadm -A -t 10.0.0.2:443 -s wlc -p 300 -M 255.255.255.0
ns ipvsadm -a -t 10.0.0.2:443 -r 192.168.10.1:8443 -m -w 3 -x 100 -y 10
ns ipvsadm -A -u 10.0.0.1:53 -s mh -b mh-fallback,mh-port
ns ipvsadm -a -u 10.0.0.1:53 -r 10.0.1.3:53 -m -w 1
ns ipvsadm -a -u 10.0.0.1:53 -r 10.0.1.4:53 -m -w 0
ns ipvsadm -A -f 10 -s wrr -p 60
ns ipvsadm -a -f 10 -r 10.0.1.2:0 -i -w 1
ns ipvsadm -A -t 10.0.0.3:25 -s sh -b sh-fallback
ns ipvsadm -a -t 10.0.0.3:25 -r 10.0.1.5:25 -i --tun-type gue --tun-port 6080
# Real ipvsadm 1.31 facts pinned here: -S omits the -x/-y thresholds (checked
# with --thresholds below), a GUE tunnel destination is saved with
# --tun-nocsum, and services sort IPv4/IPv6 virtual addresses before fwmarks.
want4='-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 2
-a -t 10.0.0.1:80 -r 10.0.1.2:8080 -m -w 1
-A -t 10.0.0.2:443 -s wlc -p 300 -M 255.255.255.0
-a -t 10.0.0.2:443 -r 192.168.10.1:8443 -m -w 3
-A -t 10.0.0.3:25 -s sh -b sh-fallback
-a -t 10.0.0.3:25 -r 10.0.1.5:25 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum
-A -u 10.0.0.1:53 -s mh -b mh-fallback,mh-port
-a -u 10.0.0.1:53 -r 10.0.1.3:53 -m -w 1
-a -u 10.0.0.1:53 -r 10.0.1.4:53 -m -w 0'
want_fwm4='-A -f 10 -s wrr -p 60
-a -f 10 -r 10.0.1.2:0 -i -w 1 --tun-type ipip'
if [ -e /proc/net/if_inet6 ]; then
    ns ipvsadm -A -t '[2001:db8::1]:80' -s lc
    ns ipvsadm -a -t '[2001:db8::1]:80' -r '[2001:db8:1::2]:80' -m -w 5
    ns ipvsadm -A -f 11 -6 -s mh -b mh-port
    ns ipvsadm -a -f 11 -6 -r '[2001:db8:1::3]:0' -g -w 1
    want="$want4"'
-A -t [2001:db8::1]:80 -s lc
-a -t [2001:db8::1]:80 -r [2001:db8:1::2]:80 -m -w 5'"
$want_fwm4"'
-A -f 11 -6 -s mh -b mh-port
-a -f 11 -6 -r [2001:db8:1::3]:0 -g -w 1'
else
    echo "note: no IPv6 in the guest; IPv6 services skipped"
    want="$want4
$want_fwm4"
fi
echo "--- ipvsadm -Ln"
ns ipvsadm -Ln
echo "--- ipvsadm -Sn"
got=$(ns ipvsadm -Sn)
printf '%s\n' "$got"
echo "---"
assert_eq "$want" "$got" "ipvsadm -Sn"
echo "--- ipvsadm -Ln --thresholds"
ns ipvsadm -Ln --thresholds
assert_eq "100 10" "$(ns ipvsadm -Ln --thresholds | awk '$2 == "192.168.10.1:8443" { print $3, $4 }')" "thresholds of 192.168.10.1:8443"

# Linux 6.1 has no ip_vs_twos (it came with 6.7): the kernel's request for
# the module fails and ipvsadm reports it.
[ ! -e /sys/module/ip_vs_twos ] || fail "ip_vs_twos is loaded on $(uname -r)"
if ns ipvsadm -A -t 10.0.0.9:80 -s twos 2>"$LAB_TMP/twos.err"; then
    fail "adding a service with scheduler twos succeeded"
fi
echo "twos refused as expected: $(cat "$LAB_TMP/twos.err")"
grep -q "Scheduler or persistence engine not found" "$LAB_TMP/twos.err" || fail "unexpected twos error text"
assert_eq "" "$(ns ipvsadm -Sn | grep 10.0.0.9 || true)" "no twos service left behind"

# IPVS is per network namespace: a table programmed in A is not seen in B
# nor in the initial namespace, and clearing A leaves B alone.
netns_add labA
netns_add labB
ip netns exec labA ipvsadm -A -t 10.9.9.9:80 -s rr
ip netns exec labA ipvsadm -a -t 10.9.9.9:80 -r 10.9.9.10:80 -m
ip netns exec labB ipvsadm -A -u 10.8.8.8:53 -s sed
assert_eq '-A -t 10.9.9.9:80 -s rr
-a -t 10.9.9.9:80 -r 10.9.9.10:80 -m -w 1' "$(ip netns exec labA ipvsadm -Sn)" "table of netns labA"
assert_eq '-A -u 10.8.8.8:53 -s sed' "$(ip netns exec labB ipvsadm -Sn)" "table of netns labB"
assert_eq "" "$(ipvsadm -Sn)" "table of the initial netns"
ip netns exec labA ipvsadm -C
assert_eq "" "$(ip netns exec labA ipvsadm -Sn)" "labA after ipvsadm -C"
assert_eq '-A -u 10.8.8.8:53 -s sed' "$(ip netns exec labB ipvsadm -Sn)" "labB after clearing labA"
pass
