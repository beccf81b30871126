#!/bin/sh
# Benchmark (prints figures, asserts nothing): load 2,000 services x 20
# destinations (42,000 entries) into a fresh network namespace with
# `lvsd apply`, then with keepalived 2.2.7 (-C, no checkers) in another,
# and time a no-op reconcile of the full table. Optional argument: the
# lvsd binary to time (repo-relative; default target/release/lvsd).
set -e
. scripts/lab.d/guest-lib.sh
LVSD=${1:-${LVSD:-target/release/lvsd}}
# Both contenders run from the guest's RAM, as from a local disk: the
# host root is shared over 9p without a page cache (cache=none), so every
# exec would read the binary from the host again.
cp "$LVSD" /tmp/lvsd-bench
LVSD=/tmp/lvsd-bench
cp "$(command -v keepalived)" /tmp/keepalived-bench
cp "$(command -v ipvsadm)" /tmp/ipvsadm-bench  # keepalived's progress poll
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
rate() { python3 -c "print(f'{42000 / ($2 - $1):.0f}')"; }
scripts/gen-big-config 2000 20 --no-check > /tmp/big.conf
last_vip=$(grep '^virtual_server' /tmp/big.conf | tail -n 1 | awk '{print $2}')

t0=$(now)
$LVSD -t -f /tmp/big.conf 2>/dev/null
t1=$(now)
echo "BENCH lvsd -t (parse + validate the 2,000 x 20 config): $(secs "$t0" "$t1") s"
netns_add lvsd1
t0=$(now)
ip netns exec lvsd1 $LVSD apply --timing -f /tmp/big.conf --owned-file /tmp/owned-bench 2>/tmp/apply.err || { cat /tmp/apply.err; fail "apply failed"; }
t1=$(now)
cat /tmp/apply.err
t2=$(now)
ip netns exec lvsd1 $LVSD apply --timing -f /tmp/big.conf --owned-file /tmp/owned-bench 2>/tmp/noop.err
t3=$(now)
cat /tmp/noop.err
entries=$(ip netns exec lvsd1 ipvsadm -Sn | wc -l)
lvsd_s=$(secs "$t0" "$t1")
echo "BENCH lvsd apply: $lvsd_s s, $(rate "$t0" "$t1") entries/s ($entries lines in ipvsadm -Sn)"
echo "BENCH lvsd no-op reconcile (parse + dump + diff): $(secs "$t2" "$t3") s, $(rate "$t2" "$t3") entries/s checked"
dump_ms=$(sed -n 's/.*kernel dump \([0-9]*\) ms.*/\1/p' /tmp/noop.err)
diff_ms=$(sed -n 's/.* diff \([0-9]*\) ms.*/\1/p' /tmp/noop.err)
if [ -n "$dump_ms" ] && [ -n "$diff_ms" ]; then
    echo "BENCH lvsd no-op reconcile without the config parse (dump + diff, the daemon's periodic reconcile): $((dump_ms + diff_ms)) ms, $(python3 -c "print(f'{42000 * 1000 / ($dump_ms + $diff_ms):.0f}')") entries/s"
fi

netns_add kad1
t0=$(now)
ip netns exec kad1 /tmp/keepalived-bench -C -n -f /tmp/big.conf -p /tmp/ka.pid -c /tmp/kac.pid >/tmp/ka.log 2>&1 &
i=0
while [ "$i" -lt 1800 ]; do
    c=$(ip netns exec kad1 /tmp/ipvsadm-bench -Ln -t "$last_vip:80" 2>/dev/null | grep -c -- '-> [0-9]' || true)
    [ "$c" -ge 20 ] && break
    sleep 0.1
    i=$((i + 1))
done
t1=$(now)
kill "$(cat /tmp/ka.pid 2>/dev/null)" 2>/dev/null || true
ka_s=$(secs "$t0" "$t1")
echo "BENCH keepalived -C load: $ka_s s, $(rate "$t0" "$t1") entries/s (last service has $c destinations)"
echo "BENCH lvsd apply is $(python3 -c "print(f'{$ka_s / $lvsd_s:.1f}')")x faster than keepalived -C"
pass
