#!/bin/sh
# The lvsd daemon against real IPVS: a real server whose listener dies is
# removed and comes back, ipvsadm changes behind lvsd's back are repaired,
# SIGHUP applies a weight change and refuses a broken config, SIGTERM
# removes what lvsd owns.
set -e
. scripts/lab.d/guest-lib.sh
LVSD=${LVSD:-target/debug/lvsd}
netns_add dmn
n() { ip netns exec dmn "$@"; }
n ip link add d0 type dummy
n ip addr add 10.77.0.2/24 dev d0
n ip link set d0 up
# Not a command substitution: a background job would hold its pipe open.
serve() { ip netns exec dmn python3 -m http.server "$1" --bind 10.77.0.2 </dev/null >/dev/null 2>&1 & LAST=$!; }
serve 8081; P1=$LAST
serve 8082; P2=$LAST
write_conf() {
    cat > /tmp/daemon.conf <<CONF
virtual_server 10.77.0.100 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    delay_loop 1
    real_server 10.77.0.2 8081 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            warmup 0
        }
    }
    real_server 10.77.0.2 8082 {
        weight $1
        TCP_CHECK {
            connect_timeout 1
            warmup 0
        }
    }
}
CONF
}
write_conf 2
wait_for "ip netns exec dmn python3 -c 'import socket; socket.create_connection((\"10.77.0.2\", 8082), 1)'" 30 || fail "listeners did not start"
ip netns exec dmn $LVSD -f /tmp/daemon.conf --owned-file /tmp/owned-daemon --reconcile-interval 1 </dev/null 2>/tmp/daemon.log &
DPID=$!
dests() { n ipvsadm -Sn | grep -c '^-a' || true; }
wait_for "[ \$(ip netns exec dmn ipvsadm -Sn | grep -c '^-a') -eq 2 ]" 20 || { cat /tmp/daemon.log; fail "daemon did not program both servers"; }
kill "$P2"
wait_for "! ip netns exec dmn ipvsadm -Sn | grep -q 10.77.0.2:8082" 10 || { cat /tmp/daemon.log; fail "dead server not removed"; }
serve 8082; P2=$LAST
wait_for "ip netns exec dmn ipvsadm -Sn | grep -q 10.77.0.2:8082" 15 || { cat /tmp/daemon.log; fail "recovered server not re-added"; }
n ipvsadm -d -t 10.77.0.100:80 -r 10.77.0.2:8081
wait_for "ip netns exec dmn ipvsadm -Sn | grep -q 10.77.0.2:8081" 10 || { cat /tmp/daemon.log; fail "drift not repaired"; }
write_conf 7
kill -HUP "$DPID"
wait_for "ip netns exec dmn ipvsadm -Sn | grep -q '10.77.0.2:8082 -m -w 7'" 10 || { cat /tmp/daemon.log; fail "reload weight change"; }
before=$(n ipvsadm -Sn)
echo "virtual_server 10.77.0.100 80 { wieght 3" > /tmp/daemon.conf
kill -HUP "$DPID"
sleep 2
kill -0 "$DPID" || fail "daemon died on a broken config"
assert_eq "$before" "$(n ipvsadm -Sn)" "broken reload changes nothing"
grep -q "reload refused" /tmp/daemon.log || { cat /tmp/daemon.log; fail "no refusal logged"; }
kill -TERM "$DPID"
wait "$DPID" || true
assert_eq "" "$(n ipvsadm -Sn)" "SIGTERM removes owned services"
kill "$P1" "$P2" 2>/dev/null || true
cat /tmp/daemon.log
pass
