#!/bin/sh
# lvsd against real IPVS and the real ipvsadm 1.31, in the lab guest:
# - every example that validates: `lvsd apply`, then `ipvsadm -Sn` equals
#   `lvsd plan`, and `lvsd list` equals `ipvsadm -L -n` in every mode;
# - drift (a deleted destination, a changed weight) is repaired by the next
#   apply, and an operator's own service is left alone;
# - a missing scheduler module (`twos` on 6.1) is reported clearly.
# Each config runs in a fresh network namespace (IPVS is per namespace).
set -e
. scripts/lab.d/guest-lib.sh
LVSD=${LVSD:-target/debug/lvsd}
[ -x "$LVSD" ] || fail "$LVSD not built"
n=0
for f in examples/*.conf examples/seeds/*.conf; do
    $LVSD -t -f "$f" -i lb1 >/dev/null 2>&1 || continue
    n=$((n + 1))
    ns="cfg$n"
    netns_add "$ns"
    in_ns() { ip netns exec "$ns" "$@"; }
    in_ns $LVSD apply -f "$f" -i lb1 --owned-file "/tmp/owned-$n" 2>/tmp/apply.err || { cat /tmp/apply.err; fail "apply $f"; }
    assert_eq "$($LVSD plan -f "$f" -i lb1)" "$(in_ns ipvsadm -Sn)" "$f: ipvsadm -Sn vs lvsd plan"
    for mode in "" "--stats" "--rate" "--thresholds" "--persistent-conn" "--tun-info" "--stats --exact"; do
        # shellcheck disable=SC2086
        assert_eq "$(in_ns ipvsadm -L -n $mode)" "$(in_ns $LVSD list -n $mode)" "$f: list -n $mode"
    done
    assert_eq "$(in_ns ipvsadm -S -n)" "$(in_ns $LVSD list -S)" "$f: list -S"
    # A second apply changes nothing.
    in_ns $LVSD apply -f "$f" -i lb1 --owned-file "/tmp/owned-$n" 2>/tmp/apply.err
    grep -q "applied 0 operations" /tmp/apply.err || { cat /tmp/apply.err; fail "$f: second apply not idempotent"; }
    ip netns del "$ns"
done
[ "$n" -ge 20 ] || fail "only $n configs checked"
echo "checked $n configurations"

# Drift repair and foreign services.
netns_add drift
f=examples/lvs-dr-http.conf
d() { ip netns exec drift "$@"; }
d $LVSD apply -f $f --owned-file /tmp/owned-drift 2>/dev/null
want=$(d ipvsadm -Sn)
d ipvsadm -d -t 192.168.10.100:80 -r 10.0.0.12:80
d ipvsadm -e -t 192.168.10.100:80 -r 10.0.0.11:80 -g -w 9
d ipvsadm -A -t 192.168.99.1:25 -s lc
d $LVSD apply -f $f --owned-file /tmp/owned-drift 2>/tmp/apply.err
grep -q "applied 2 operations, 0 failed" /tmp/apply.err || { cat /tmp/apply.err; fail "drift: expected 2 operations"; }
got=$(d ipvsadm -Sn)
assert_eq "$want
-A -t 192.168.99.1:25 -s lc" "$(printf '%s\n' "$got" | grep -v '^$')" "drift repaired, foreign service kept"

# Ownership across applies: the record names what lvsd applied; a service
# dropped from the configuration is deleted by the next apply (and leaves
# the record), an operator's own service stays, and a service the kernel
# refuses is not recorded.
netns_add own
o() { ip netns exec own "$@"; }
vs() { # address, real server, scheduler
    printf 'virtual_server %s 80 {\n    lb_algo %s\n    lb_kind NAT\n    protocol TCP\n    real_server %s 80 {\n    }\n}\n' "$1" "$3" "$2"
}
{ vs 10.6.0.1 10.6.1.1 rr; vs 10.6.0.2 10.6.1.2 rr; } > /tmp/own1.conf
o $LVSD apply -f /tmp/own1.conf --owned-file /tmp/owned-own 2>/tmp/apply.err || { cat /tmp/apply.err; fail "ownership: first apply"; }
assert_eq "TCP 10.6.0.1:80
TCP 10.6.0.2:80" "$(grep -v '^#' /tmp/owned-own)" "ownership: record after the first apply"
o ipvsadm -A -t 10.6.0.9:80 -s lc
vs 10.6.0.1 10.6.1.1 rr > /tmp/own2.conf
o $LVSD apply -f /tmp/own2.conf --owned-file /tmp/owned-own 2>/tmp/apply.err || { cat /tmp/apply.err; fail "ownership: second apply"; }
assert_eq "TCP 10.6.0.1:80
TCP 10.6.0.9:80" "$(o ipvsadm -Ln | sed -n 's/^TCP  \([0-9.:]*\) .*/TCP \1/p' | sort)" "ownership: dropped service deleted, foreign kept"
assert_eq "TCP 10.6.0.1:80" "$(grep -v '^#' /tmp/owned-own)" "ownership: record after dropping a service"
{ vs 10.6.0.1 10.6.1.1 rr; vs 10.6.0.3 10.6.1.3 twos; } > /tmp/own3.conf
if o $LVSD apply -f /tmp/own3.conf --owned-file /tmp/owned-own 2>/tmp/apply.err; then
    fail "ownership: the twos service should fail"
fi
assert_eq "TCP 10.6.0.1:80" "$(grep -v '^#' /tmp/owned-own)" "ownership: a refused service is not recorded"
ip netns del own
echo "ownership: record follows applies (dropped, foreign, refused)"

# Missing scheduler module.
cat > /tmp/twos.conf <<'CONF'
virtual_server 10.5.0.1 80 {
    lb_algo twos
    lb_kind NAT
    protocol TCP
    real_server 10.5.1.1 80 {
    }
}
CONF
netns_add twos
if ip netns exec twos $LVSD apply -f /tmp/twos.conf --owned-file /tmp/owned-twos 2>/tmp/apply.err; then
    fail "twos apply should fail"
fi
grep -q "scheduler module ip_vs_twos is not available" /tmp/apply.err || { cat /tmp/apply.err; fail "twos error text"; }
pass
