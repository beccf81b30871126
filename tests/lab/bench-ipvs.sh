#!/bin/sh
# Benchmark (prints figures, asserts nothing): load 2,000 services x 20
# destinations (42,000 entries) into a fresh network namespace with
# `lvsd apply`, then with keepalived 2.2.7 (-C, no checkers) in another,
# three rounds each, and time a no-op reconcile of the full table. Optional
# argument: the lvsd binary to time (repo-relative; default
# target/release/lvsd).
#
# Each run gets a new namespace, deleted after it: right after a flush the
# kernel keeps deleted destinations in a trash list that slows later adds,
# and the 6.1 kernel keeps the services of all namespaces in one hash
# table, so a namespace left behind could lengthen the next contender's
# chains. After each deletion the next run waits until the kernel's
# namespace cleanup is over (the CPUs idle again).
set -e
. scripts/lab.d/guest-lib.sh
LVSD=${1:-${LVSD:-target/release/lvsd}}
ROUNDS=${2:-3}
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
median() { python3 -c "import sys, statistics; print(f'{statistics.median(float(x) for x in sys.argv[1:]):.2f}')" "$@"; }
cpu_busy() { # "busy total" jiffies of all CPUs so far
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
settle() { # the namespace to delete; then wait (at most 20 s) until the
    # kernel's cleanup of its table is over: half a second with the CPUs
    # at least 90 % idle
    ip netns del "$1"
    k=0
    while [ "$k" -lt 40 ]; do
        set -- $(cpu_busy)
        sleep 0.5
        set -- "$@" $(cpu_busy)
        [ $(( ($3 - $1) * 10 )) -le $(( $4 - $2 )) ] && break
        k=$((k + 1))
    done
}
scripts/gen-big-config 2000 20 --no-check > /tmp/big.conf
last_vip=$(grep '^virtual_server' /tmp/big.conf | tail -n 1 | awk '{print $2}')

t0=$(now)
$LVSD -t -f /tmp/big.conf 2>/dev/null
t1=$(now)
echo "BENCH lvsd -t (parse + validate the 2,000 x 20 config): $(secs "$t0" "$t1") s"

lvsd_runs=""
ka_runs=""
round=1
while [ "$round" -le "$ROUNDS" ]; do
    ns=lvsd$round
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    rm -f /tmp/owned-bench
    t0=$(now)
    ip netns exec "$ns" $LVSD apply --timing -f /tmp/big.conf --owned-file /tmp/owned-bench 2>/tmp/apply.err || { cat /tmp/apply.err; ip netns del "$ns"; fail "apply failed"; }
    t1=$(now)
    grep timing /tmp/apply.err
    s=$(secs "$t0" "$t1")
    lvsd_runs="$lvsd_runs $s"
    entries=$(ip netns exec "$ns" ipvsadm -Sn | wc -l)
    echo "BENCH round $round: lvsd apply: $s s, $(rate "$t0" "$t1") entries/s ($entries lines in ipvsadm -Sn)"
    if [ "$round" -eq 1 ]; then
        t2=$(now)
        ip netns exec "$ns" $LVSD apply --timing -f /tmp/big.conf --owned-file /tmp/owned-bench 2>/tmp/noop.err
        t3=$(now)
        cat /tmp/noop.err
        echo "BENCH lvsd no-op reconcile (parse + dump + diff): $(secs "$t2" "$t3") s, $(rate "$t2" "$t3") entries/s checked"
        dump_ms=$(sed -n 's/.*kernel dump \([0-9]*\) ms.*/\1/p' /tmp/noop.err)
        diff_ms=$(sed -n 's/.* diff \([0-9]*\) ms.*/\1/p' /tmp/noop.err)
        if [ -n "$dump_ms" ] && [ -n "$diff_ms" ]; then
            echo "BENCH lvsd no-op reconcile without the config parse (dump + diff, the daemon's periodic reconcile): $((dump_ms + diff_ms)) ms, $(python3 -c "print(f'{42000 * 1000 / ($dump_ms + $diff_ms):.0f}')") entries/s"
        fi
    fi
    settle "$ns"

    ns=kad$round
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    t0=$(now)
    ip netns exec "$ns" /tmp/keepalived-bench -C -n -f /tmp/big.conf -p /tmp/ka.pid -c /tmp/kac.pid >/tmp/ka.log 2>&1 &
    ka_shell=$!
    i=0
    c=0
    while [ "$i" -lt 1800 ]; do
        c=$(ip netns exec "$ns" /tmp/ipvsadm-bench -Ln -t "$last_vip:80" 2>/dev/null | grep -c -- '-> [0-9]' || true)
        [ "$c" -ge 20 ] && break
        sleep 0.1
        i=$((i + 1))
    done
    t1=$(now)
    # KILL, not TERM: keepalived would delete its 42,000 entries one by
    # one on the way out; the namespace's deletion drops them at once.
    pkill -KILL -f /tmp/keepalived-bench 2>/dev/null || true
    j=0
    while kill -0 "$ka_shell" 2>/dev/null && [ "$j" -lt 100 ]; do sleep 0.1; j=$((j + 1)); done
    s=$(secs "$t0" "$t1")
    ka_runs="$ka_runs $s"
    echo "BENCH round $round: keepalived -C load: $s s, $(rate "$t0" "$t1") entries/s (last service has $c destinations)"
    settle "$ns"
    round=$((round + 1))
done

lvsd_med=$(median $lvsd_runs)
ka_med=$(median $ka_runs)
echo "BENCH lvsd apply, $ROUNDS runs:$lvsd_runs s; median $lvsd_med s, $(python3 -c "print(f'{42000 / $lvsd_med:.0f}')") entries/s"
echo "BENCH keepalived -C load, $ROUNDS runs:$ka_runs s; median $ka_med s, $(python3 -c "print(f'{42000 / $ka_med:.0f}')") entries/s"
echo "BENCH lvsd apply is $(python3 -c "print(f'{$ka_med / $lvsd_med:.1f}')")x faster than keepalived -C (medians)"
pass
