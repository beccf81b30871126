#!/bin/sh
# A SIGHUP reload of the 2,000 x 20 configuration (40,000 real servers with
# TCP_CHECK at delay_loop 60 s, 42,000 IPVS entries; every check succeeds
# against one listener on an AnyIP route) with one real server's weight
# changed: exactly one netlink operation by lvsd's own count (its log line
# "reloaded: N IPVS operations"; `lvsd status` is not polled: 40,000 real
# servers make a large answer),
# the new weight in the kernel by ipvsadm, an untouched service keeps its
# counters, and the checks keep running (counted at the listener). Prints
# lvsd's own reload timing. Uses the release build (scripts/test builds it).
#
#   sh tests/lab/reload-big.sh [LVSD]
set -e
. scripts/lab.d/guest-lib.sh
LVSD=${1:-${LVSD:-target/release/lvsd}}
[ -x "$LVSD" ] || fail "no $LVSD: build it first (cargo build --release --bin lvsd)"
SOCK=$LAB_TMP/big.sock
CONF=$LAB_TMP/big.conf
netns_add big
b() { ip netns exec big "$@"; }
b ip link add d0 type dummy
b ip link set d0 up
b ip addr add 10.99.0.1/24 dev d0
b ip route add local 10.200.0.0/13 dev lo
python3 scripts/gen-big-config 2000 20 > "$CONF"
cat > "$LAB_TMP/listener.py" <<'PY'
import select, socket, sys, time
out = sys.argv[1]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen(4096)
s.setblocking(False)
n, t_flush = 0, time.monotonic()
while True:
    r, _, _ = select.select([s], [], [], 0.2)
    for _ in range(256 if r else 0):
        try:
            c, _ = s.accept()
        except BlockingIOError:
            break
        c.close()
        n += 1
    if time.monotonic() - t_flush >= 0.5:
        open(out + ".tmp", "w").write(str(n))
        import os; os.replace(out + ".tmp", out)
        t_flush = time.monotonic()
PY
run_bg ip netns exec big python3 "$LAB_TMP/listener.py" "$LAB_TMP/accepted"
wait_for "[ -s $LAB_TMP/accepted ]" 10 || fail "listener did not start"
accepted() { cat "$LAB_TMP/accepted"; }
t0=$(date +%s.%N)
ip netns exec big "$LVSD" -f "$CONF" --owned-file "$LAB_TMP/owned" --control-socket "$SOCK" </dev/null >"$LAB_TMP/lvsd.log" 2>&1 &
DPID=$!
LAB_BG_PIDS="$LAB_BG_PIDS $DPID"
wait_for "grep -q 'started:' $LAB_TMP/lvsd.log" 120 || { tail -20 "$LAB_TMP/lvsd.log"; fail "lvsd did not start"; }
grep 'started:' "$LAB_TMP/lvsd.log" | sed 's/^/    /'
grep -q 'started: 2000 virtual servers, .* 42000 IPVS operations' "$LAB_TMP/lvsd.log" || fail "the first reconcile did not program 42,000 entries"
echo "reload-big: 42,000 entries programmed $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s after start"
b ipvsadm -Ln -t 10.100.0.1:80 | grep -q '10.200.0.10:8080 *Masq *1 ' || { b ipvsadm -Ln -t 10.100.0.1:80; fail "unexpected first real server"; }
# Traffic through an untouched service (the last one) gives it counters to keep.
b ip route add 10.96.0.0/12 dev d0
echo "reload-big: traffic through the last service"
svc_conns() { b ipvsadm -Ln --stats -t 10.107.249.1:80 | awk '/^TCP/ {print $3}'; }
b timeout 10 python3 -c '
import socket
for _ in range(3):
    s = socket.socket()
    s.settimeout(1)
    s.connect_ex(("10.107.249.1", 80))
    s.close()
' || true
wait_for "[ \$(ip netns exec big ipvsadm -Ln --stats -t 10.107.249.1:80 | awk '/^TCP/ {print \$3}') -ge 1 ]" 6 ||
    fail "the untouched service's counters did not move"
c1=$(svc_conns)
echo "reload-big: service conns $c1; measuring the check rate"
sleep 2
a1=$(accepted)
sleep 5
a2=$(accepted)
rate1=$(((a2 - a1) / 5))
# One weight changed: the first real server of the first service, 1 -> 9.
python3 - "$CONF" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = "real_server 10.200.0.10 8080 {\n        weight 1\n"
assert s.count(old) == 1
open(p, "w").write(s.replace(old, "real_server 10.200.0.10 8080 {\n        weight 9\n"))
PY
echo "reload-big: checks/s before $rate1; lvsd CPU ticks $(awk '{print $14 + $15}' /proc/$DPID/stat); SIGHUP with one weight changed"
kill -HUP "$DPID"
th=$(date +%s.%N)
wait_for "ip netns exec big ipvsadm -Ln -t 10.100.0.1:80 | grep -q '10.200.0.10:8080 *Masq *9 '" 300 ||
    { tail -20 "$LAB_TMP/lvsd.log"; fail "the new weight did not reach the kernel"; }
echo "reload-big: new weight in the kernel $(echo "$(date +%s.%N) - $th" | bc | cut -c1-5) s after SIGHUP; lvsd CPU ticks $(awk '{print $14 + $15}' /proc/$DPID/stat)"
wait_for "grep -q 'reloaded:' $LAB_TMP/lvsd.log" 30 || { tail -20 "$LAB_TMP/lvsd.log"; fail "no reload report in the log"; }
n=$(sed -n 's/.*reloaded: \([0-9]*\) IPVS operations.*/\1/p' "$LAB_TMP/lvsd.log" | tail -1)
c2=$(svc_conns)
a3=$(accepted)
sleep 5
a4=$(accepted)
rate2=$(((a4 - a3) / 5))
grep -E 'reload|reloaded' "$LAB_TMP/lvsd.log" | tail -3 | sed 's/^/    /'
echo "reload-big: operations for the one-weight reload: $n; untouched service conns $c1 -> $c2; checks/s at the listener before $rate1, after $rate2"
assert_eq 1 "$n" "netlink operations for a one-weight reload of 42,000 entries"
[ "$c2" -ge "$c1" ] || fail "the untouched service lost its counters ($c1 -> $c2)"
# 667 checks/s are scheduled; the reload must not stop or restart them.
[ "$rate2" -ge $((rate1 / 2)) ] && [ "$rate2" -gt 100 ] || fail "checks slowed down after the reload ($rate1/s -> $rate2/s)"
kill -TERM "$DPID"
i=0; while kill -0 "$DPID" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
pass
