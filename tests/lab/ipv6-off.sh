#!/bin/sh
# IPv6 absent from the kernel: boot with ipv6.disable=1
#   LAB_APPEND=ipv6.disable=1 scripts/lab run tests/lab/ipv6-off.sh
# IPVS then refuses every IPv6 service with EAFNOSUPPORT (ipvsadm says so
# too). lvsd apply prints one clear error for the IPv6 service, programs
# the IPv4 service of the same config, exits 2, and a second apply retries
# only the IPv6 service.
set -e
. scripts/lab.d/guest-lib.sh
LVSD=${LVSD:-target/debug/lvsd}
[ -x "$LVSD" ] || fail "$LVSD not built"
grep -qw 'ipv6.disable=1' /proc/cmdline || fail "boot with LAB_APPEND=ipv6.disable=1"
netns_add v6off
n() { ip netns exec v6off "$@"; }
if n ipvsadm -A -t '[2001:db8::99]:80' -s rr 2>/tmp/ipvsadm.err; then
    fail "ipvsadm added an IPv6 service without IPv6"
fi
echo "ipvsadm: $(cat /tmp/ipvsadm.err)"
cat > /tmp/v6off.conf <<'CONF'
virtual_server 10.79.0.10 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.79.0.11 8080 {
        weight 1
    }
}
virtual_server 2001:db8::10 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 2001:db8::11 8080 {
        weight 1
    }
}
CONF
rc=0
n $LVSD apply -f /tmp/v6off.conf --owned-file /tmp/owned-v6off 2>/tmp/v6off.err || rc=$?
cat /tmp/v6off.err
[ "$rc" -eq 2 ] || fail "lvsd apply exit $rc, expected 2 (runtime error)"
grep -qx "lvsd: add service TCP \[2001:db8::10\]:80: IPv6 is not supported by this kernel's IPVS" /tmp/v6off.err ||
    fail "no clear error for the IPv6 service"
# Every error is about the IPv6 service (its destination fails with it).
others=$(grep -v '^lvsd: applied' /tmp/v6off.err | grep -v 'TCP \[2001:db8::10\]:80: ' || true)
assert_eq "" "$others" "errors about anything but the IPv6 service"
grep -q "applied 4 operations, 2 failed" /tmp/v6off.err || fail "expected 4 operations, 2 failed (the IPv6 service and its destination)"
assert_eq "-A -t 10.79.0.10:80 -s rr
-a -t 10.79.0.10:80 -r 10.79.0.11:8080 -m -w 1" "$(n ipvsadm -Sn)" "the IPv4 service is programmed"
rc=0
n $LVSD apply -f /tmp/v6off.conf --owned-file /tmp/owned-v6off 2>/tmp/v6off2.err || rc=$?
cat /tmp/v6off2.err
[ "$rc" -eq 2 ] || fail "second apply exit $rc, expected 2"
grep -q "applied 2 operations, 2 failed" /tmp/v6off2.err || fail "second apply retries only the IPv6 service"
pass
