#!/bin/sh
# IPVS globals and IPv6 edge cases against the real kernel:
# - IPv6 switched off in a namespace (net.ipv6.conf.*.disable_ipv6=1):
#   IPVS only refuses IPv6 when the whole IPv6 stack is absent (boot with
#   ipv6.disable=1, see ipv6-off.sh), so lvsd, like ipvsadm, programs the
#   service and `ipvsadm -Sn` equals `lvsd plan`;
# - lvs_timeouts: the daemon sets them at start; `ipvsadm -L --timeout`
#   shows the configured values;
# - lvs_sync_daemon: the daemon runs the backup sync daemon while its VRRP
#   instance is Backup and starts the master sync daemon when it becomes
#   Master (`ipvsadm -L --daemon`); the backup daemon stays 3 s longer (it
#   takes in a resigning master's connection hand-over), then only the
#   master daemon runs; both are stopped at exit.
set -e
. scripts/lab.d/guest-lib.sh
LVSD=${LVSD:-target/debug/lvsd}
[ -x "$LVSD" ] || fail "$LVSD not built"

# --- IPv6 disabled in a namespace
netns_add v6sys
ip netns exec v6sys sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec v6sys sysctl -qw net.ipv6.conf.default.disable_ipv6=1
cat > /tmp/v6.conf <<'CONF'
virtual_server 2001:db8::10 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 2001:db8::11 8080 {
        weight 2
    }
}
CONF
ip netns exec v6sys ipvsadm -A -t '[2001:db8::99]:80' -s rr || fail "ipvsadm refused IPv6 with disable_ipv6=1"
ip netns exec v6sys ipvsadm -D -t '[2001:db8::99]:80'
ip netns exec v6sys $LVSD apply -f /tmp/v6.conf --owned-file /tmp/owned-v6sys 2>/tmp/v6.err || { cat /tmp/v6.err; fail "lvsd apply IPv6 with disable_ipv6=1"; }
assert_eq "$($LVSD plan -f /tmp/v6.conf)" "$(ip netns exec v6sys ipvsadm -Sn)" "IPv6 table with disable_ipv6=1"

# --- lvs_timeouts and lvs_sync_daemon through the daemon
netns_add glob
g() { ip netns exec glob "$@"; }
g ip link add sync0 type dummy
g ip addr add 10.78.0.2/24 dev sync0
g ip link set sync0 up
g ip link set lo up
before=$(g ipvsadm -L --timeout)
cat > /tmp/globals.conf <<'CONF'
global_defs {
    router_id lab_globals
    lvs_timeouts tcp 7200 tcpfin 60 udp 120
    lvs_sync_daemon sync0 VI_SYNC id 51 maxlen 1400 port 8848 ttl 2
}
vrrp_instance VI_SYNC {
    state MASTER
    interface sync0
    virtual_router_id 51
    priority 200
    advert_int 1
    virtual_ipaddress {
        10.78.0.100/24
    }
}
virtual_server 10.78.0.100 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.78.0.3 80 {
        weight 1
    }
}
CONF
# Not through `g`: $! must be lvsd itself, not a subshell, for the SIGTERM.
ip netns exec glob $LVSD -f /tmp/globals.conf --owned-file /tmp/owned-glob --reconcile-interval 1 --control-socket /tmp/lvsd-glob.sock </dev/null 2>/tmp/glob.log &
DPID=$!
wait_for "ip netns exec glob ipvsadm -L --timeout | grep -q 'Timeout (tcp tcpfin udp): 7200 60 120'" 20 || { echo "before: $before"; g ipvsadm -L --timeout; cat /tmp/glob.log; fail "lvs_timeouts not applied"; }
wait_for "ip netns exec glob ipvsadm -L --daemon | grep -q 'master sync daemon'" 30 || { g ipvsadm -L --daemon; cat /tmp/glob.log; fail "no master sync daemon"; }
t_master=$(date +%s.%N)
wait_for "[ \$(ip netns exec glob ipvsadm -L --daemon | wc -l) -eq 1 ]" 10 || { g ipvsadm -L --daemon; cat /tmp/glob.log; fail "the backup sync daemon did not stop after becoming master"; }
echo "lvs_sync_daemon: the backup daemon stopped $(echo "$(date +%s.%N) - $t_master" | bc | cut -c1-4) s after the master daemon was seen (linger 3 s)"
d=$(g ipvsadm -L --daemon)
echo "ipvsadm -L --daemon: $d"
for want in "master sync daemon (mcast=sync0, syncid=51" "maxlen=1400" "port=8848" "ttl=2"; do
    case "$d" in *"$want"*) ;; *) fail "ipvsadm -L --daemon lacks '$want': $d" ;; esac
done
kill -TERM "$DPID"
wait "$DPID" || true
assert_eq "" "$(g ipvsadm -L --daemon)" "sync daemon stopped at exit"
cat /tmp/glob.log
pass
