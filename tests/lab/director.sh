#!/bin/sh
# The director daemon's promises against real IPVS, counted by lvsd's own
# reconcile statistics (lvsd status --json) and confirmed independently
# with ipvsadm: a killed real server leaves within keepalived's bound; all
# down -> sorry server in, recovery -> out; SIGHUP with one weight changed
# is exactly one operation and the service keeps its counters; a restart
# with -I issues zero operations and keeps the counters; metrics answer.
set -e
. scripts/lab.d/guest-lib.sh
LVSD=${1:-${LVSD:-target/debug/lvsd}}
SOCK=/tmp/lvsd-director.sock
netns_add dir
netns_add dcl
d() { ip netns exec dir "$@"; }
# Real servers live on the director (local-node forwarding); a client
# namespace reaches the VIP over a veth.
d ip link add d0 type dummy
d ip addr add 10.77.0.2/24 dev d0
d ip link set d0 up
d ip addr add 10.77.0.100/32 dev lo
ip link add vcl type veth peer name vdir
ip link set vcl netns dcl
ip link set vdir netns dir
ip -n dcl addr add 10.88.0.2/24 dev vcl
ip -n dcl link set vcl up
ip -n dcl route add default via 10.88.0.1
d ip addr add 10.88.0.1/24 dev vdir
d ip link set vdir up
serve() { ip netns exec dir python3 -m http.server "$1" --bind 10.77.0.2 </dev/null >/dev/null 2>&1 & LAST=$!; }
serve 8081; P1=$LAST
serve 8082; P2=$LAST
write_conf() {
    cat > /tmp/director.conf <<CONF
virtual_server 10.77.0.100 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    delay_loop 1
    sorry_server 10.77.0.2 8089
    real_server 10.77.0.2 8081 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 10.77.0.2 8082 {
        weight $1
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
CONF
}
write_conf 2
wait_for "ip netns exec dir python3 -c 'import socket; socket.create_connection((\"10.77.0.2\", 8082), 1)'" 30 || fail "listeners did not start"
start_daemon() {
    ip netns exec dir $LVSD -f /tmp/director.conf --owned-file /tmp/owned-director \
        --control-socket $SOCK --metrics-listen 127.0.0.1:9477 "$@" </dev/null 2>>/tmp/director.log &
    DPID=$!
}
ops() { $LVSD status --json --socket $SOCK | python3 -c 'import json,sys; print(json.load(sys.stdin)["reconcile"]["operations"])'; }
conns() { d ipvsadm -Ln --stats | awk '/^TCP  10.77.0.100:80/ {print $3}'; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
start_daemon -I
wait_for "[ \$(ip netns exec dir ipvsadm -Sn | grep -c '^-a') -eq 2 ]" 20 || { cat /tmp/director.log; fail "daemon did not program both servers"; }
wait_for "$LVSD status --socket $SOCK >/dev/null 2>&1" 10 || fail "no control socket"
# Traffic through IPVS: the service's counters move.
for i in 1 2 3 4; do
    ip netns exec dcl python3 -c 'import urllib.request; urllib.request.urlopen("http://10.77.0.100/", timeout=3).read()' || fail "request $i through the VIP failed"
done
# The kernel folds its per-CPU counters into the totals every 2 s.
wait_for "[ \$(ip netns exec dir ipvsadm -Ln --stats | awk '/^TCP  10.77.0.100:80/ {print \$3}') -ge 4 ]" 6 || fail "service counters did not move ($(conns))"
c0=$(conns)
echo "director: 4 requests through IPVS, service conns $c0"

# Kill a real server: TCP_CHECK defaults (retry 1, delay_before_retry 1,
# connect_timeout 1, delay_loop 1): at most 1 + 1 + 2 x 1 = 4 s; a refused
# connection fails at once, so it is usually ~2 s.
kill "$P2"; t0=$(now)
wait_for "! ip netns exec dir ipvsadm -Sn | grep -q 10.77.0.2:8082" 10 || { cat /tmp/director.log; fail "dead server not removed"; }
t=$(elapsed "$t0")
echo "director: dead real server removed after ${t}s (bound 4 s)"
[ "$(echo "$t <= 4.5" | bc)" = 1 ] || fail "removal took ${t}s, over keepalived's 4 s bound"

# All down: the sorry server comes in; first recovery: it goes.
kill "$P1"
wait_for "ip netns exec dir ipvsadm -Sn | grep -q 10.77.0.2:8089" 10 || { cat /tmp/director.log; fail "sorry server not swapped in"; }
assert_eq "1" "$(d ipvsadm -Sn | grep -c '^-a')" "only the sorry server is left"
serve 8081; P1=$LAST
serve 8082; P2=$LAST
wait_for "! ip netns exec dir ipvsadm -Sn | grep -q 10.77.0.2:8089" 15 || { cat /tmp/director.log; fail "sorry server not swapped out"; }
wait_for "[ \$(ip netns exec dir ipvsadm -Sn | grep -c '^-a') -eq 2 ]" 15 || fail "servers not back"
echo "director: sorry server in when all were down, out on recovery"

# SIGHUP with one weight changed: exactly one operation; counters kept.
sleep 2
o1=$(ops); c1=$(conns)
write_conf 7
kill -HUP "$DPID"
wait_for "ip netns exec dir ipvsadm -Sn | grep -q '10.77.0.2:8082 -m -w 7'" 10 || { cat /tmp/director.log; fail "reload weight change"; }
o2=$(ops); c2=$(conns)
assert_eq "1" "$((o2 - o1))" "operations for a one-weight reload"
[ "$c2" -ge "$c1" ] || fail "the service lost its counters on reload ($c1 -> $c2)"
echo "director: weight reload = $((o2 - o1)) operation; conns $c1 -> $c2"

# Metrics answer with the kernel counters.
m=$(d python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9477/metrics", timeout=3).read().decode())')
echo "$m" | grep -q '^lvsd_vs_connections_total{vs="10.77.0.100:80",protocol="tcp"} ' || { echo "$m" | head -40; fail "metrics lack the service counters"; }

# Restart: the first daemon stops with -I (table kept); the new one
# adopts it: zero operations, counters kept.
kill -TERM "$DPID"; wait "$DPID" || true
d ipvsadm -Sn | grep -q 10.77.0.2:8082 || fail "-I did not keep the table"
c3=$(conns)
start_daemon
wait_for "$LVSD status --socket $SOCK >/dev/null 2>&1" 10 || { cat /tmp/director.log; fail "restart: no control socket"; }
assert_eq "0" "$(ops)" "operations of an identical restart"
[ "$(conns)" -ge "$c3" ] || fail "restart reset the service counters"
echo "director: identical restart = 0 operations, counters kept ($c3)"
kill -TERM "$DPID"; wait "$DPID" || true
assert_eq "" "$(d ipvsadm -Sn)" "SIGTERM removes owned services"
kill "$P1" "$P2" 2>/dev/null || true
pass
