#!/bin/sh
# End-to-end failover of a director pair against real IPVS, in namespaces of
# one guest:
#
#   cli (10.10.0.10) --- br0 (LAN 10.10.0.0/24) --- dirA .2 / dirB .3 --- br1 (10.20.0.0/24)
#                         |                                                 |
#                         rs1 .11, rs2 .12 (eth0) ------------------------- rs1 .11, rs2 .12 (eth1)
#
# Both directors run the same keepalived.conf apart from the priority (dirA
# 150, dirB 100): VI_1 holds the VIP 10.10.0.100 on the LAN, VI_2 the
# real servers' gateway 10.20.0.1, in one vrrp_sync_group; IPVS has
# VIP:80 (DR), VIP:9000 (DR, line echo) and VIP:8080 (NAT to the real
# servers' 10.20.0.x:80; their replies leave via the gateway VIP by policy
# routing); lvs_sync_daemon follows VI_1.
#
# A client loop (one sequential loop per mode, 3 s deadline per request)
# runs while the master is crashed (SIGKILL of every daemon process and its
# links cut: SIGKILL alone leaves the VIP and the IPVS table in the kernel
# and the "dead" node would keep forwarding), restored (a reboot: kernel
# state cleared, links up, daemon started; it preempts), stopped gracefully
# (SIGTERM) and restored again. Once with lvsd (`lvsd -f`), once with
# keepalived 2.2.7 (`keepalived -n -l -D -G -f`), figures side by side. With
# lvsd only: a long-lived TCP connection survives a crash of the master
# through the connections lvs_sync_daemon synced to the backup.
#
# Asserted: lvsd's crash failures <= max(2, keepalived's); lvsd's graceful
# stop: the VIP is never unowned, no request times out, at most one per
# mode is hit (reset, or a 1 s SYN retransmission; see the verdict); a
# connection dirA's kernel has not synced is copied to dirB by the
# hand-over and keeps working; the long-lived connection is in the
# backup's table before the crash and keeps working after it.
#
#   sh tests/lab/vrrp.sh          the test (lvsd, then keepalived)
#   sh tests/lab/vrrp.sh demo     lvsd only, with tables and states (scripts/demo)
set -e
. scripts/lab.d/guest-lib.sh
# The newer of the release and debug builds (scripts/test builds both):
# failover timing is measured on what operators run.
LVSD_DEFAULT=target/debug/lvsd
[ target/release/lvsd -nt target/debug/lvsd ] && LVSD_DEFAULT=target/release/lvsd
LVSD=${2:-${LVSD:-$LVSD_DEFAULT}}
MODE=${1:-test}
TOOL=tests/lab/vrrp-tool.py
VIP=10.10.0.100
GW=10.20.0.1
PH=$LAB_TMP/phase
[ -x "$LVSD" ] || fail "no $LVSD: build it first (cargo build)"
say() { echo "vrrp-lab: $*"; }
say "lvsd binary: $LVSD"
command -v keepalived >/dev/null || [ "$MODE" = demo ] || fail "no keepalived in the guest"

demo() { [ "$MODE" = demo ]; }
now_ms() { date +%s%3N; }
secs() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }

# --- the network -------------------------------------------------------
netns_add lan
for br in br0 br1; do
    ip -n lan link add $br type bridge
    ip -n lan link set $br up
done
link() { # ns port bridge dev addr
    ip -n lan link add "$2" type veth peer name "$4" netns "$1"
    ip -n lan link set "$2" master "$3" up
    ip -n "$1" link set "$4" up
    ip -n "$1" addr add "$5" dev "$4"
}
netns_add cli
link cli pc br0 eth0 10.10.0.10/24
for d in A B; do
    case $d in A) n=2 ;; B) n=3 ;; esac
    netns_add dir$d
    link dir$d p${d}0 br0 eth0 10.10.0.$n/24
    link dir$d p${d}1 br1 eth1 10.20.0.$n/24
    ip netns exec dir$d sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
done
for r in 1 2; do
    netns_add rs$r
    link rs$r pr${r}0 br0 eth0 10.10.0.1$r/24
    link rs$r pr${r}1 br1 eth1 10.20.0.1$r/24
    # DR: the VIP on lo, never answered for in ARP.
    ip -n rs$r addr add $VIP/32 dev lo
    ip netns exec rs$r sh -c 'for i in all eth0; do echo 1 > /proc/sys/net/ipv4/conf/$i/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/$i/arp_announce; done'
    # NAT: replies from the internal address go back through the director
    # holding the gateway VIP (the client's LAN is otherwise on-link).
    ip -n rs$r rule add from 10.20.0.1$r lookup 100
    ip -n rs$r route add 10.20.0.0/24 dev eth1 table 100
    ip -n rs$r route add default via $GW dev eth1 table 100
    run_bg ip netns exec rs$r python3 $TOOL serve rs$r
done

write_conf() { # file priority
    cat > "$1" <<CONF
global_defs {
    lvs_sync_daemon eth0 inst VI_1
}
vrrp_sync_group LB {
    group {
        VI_1
        VI_2
    }
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority $2
    advert_int 1
    virtual_ipaddress {
        $VIP/24 dev eth0
    }
}
vrrp_instance VI_2 {
    state BACKUP
    interface eth1
    virtual_router_id 52
    priority $2
    advert_int 1
    virtual_ipaddress {
        $GW/24 dev eth1
    }
}
virtual_server $VIP 80 {
    delay_loop 3
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.10.0.11 80 {
        TCP_CHECK {
            connect_timeout 2
        }
    }
    real_server 10.10.0.12 80 {
        TCP_CHECK {
            connect_timeout 2
        }
    }
}
virtual_server $VIP 9000 {
    delay_loop 3
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.10.0.11 9000 {
        TCP_CHECK {
            connect_timeout 2
        }
    }
    real_server 10.10.0.12 9000 {
        TCP_CHECK {
            connect_timeout 2
        }
    }
}
virtual_server $VIP 8080 {
    delay_loop 3
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.20.0.11 80 {
        TCP_CHECK {
            connect_timeout 2
        }
    }
    real_server 10.20.0.12 80 {
        TCP_CHECK {
            connect_timeout 2
        }
    }
}
CONF
}
write_conf "$LAB_TMP/dirA.conf" 150
write_conf "$LAB_TMP/dirB.conf" 100

# --- directors ----------------------------------------------------------
IMPL=lvsd
PID_dirA=""
PID_dirB=""
# Every process of director $1's daemon (keepalived: parent, VRRP and
# checker children from their pid files).
daemon_pids() {
    eval "p=\$PID_$1"
    [ -n "$p" ] || return 0
    echo "$p"
    for f in "$LAB_TMP/$1-vrrp.pid" "$LAB_TMP/$1-chk.pid"; do
        [ -s "$f" ] && cat "$f"
    done
    return 0
}
start_dir() { # dirX
    rm -f "$LAB_TMP/$1.pid" "$LAB_TMP/$1-vrrp.pid" "$LAB_TMP/$1-chk.pid"
    echo "--- start $IMPL $(date +%T.%3N)" >> "$LAB_TMP/$1-$IMPL.log"
    if [ $IMPL = lvsd ]; then
        ip netns exec "$1" "$LVSD" -f "$LAB_TMP/$1.conf" --owned-file "$LAB_TMP/owned-$1" \
            --control-socket "$LAB_TMP/$1.sock" </dev/null >> "$LAB_TMP/$1-$IMPL.log" 2>&1 &
    else
        ip netns exec "$1" keepalived -n -l -D -G -f "$LAB_TMP/$1.conf" -p "$LAB_TMP/$1.pid" \
            -r "$LAB_TMP/$1-vrrp.pid" -c "$LAB_TMP/$1-chk.pid" \
            </dev/null >> "$LAB_TMP/$1-$IMPL.log" 2>&1 &
    fi
    eval "PID_$1=$!"
}
reap() { # dirX seconds: wait for the daemon's exit, then SIGKILL
    eval "p=\$PID_$1"
    [ -n "$p" ] || return 0
    i=0
    while kill -0 "$p" 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    pids=$(daemon_pids "$1")
    kill -9 $pids 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    eval "PID_$1=''"
}
# A node crash: every daemon process killed, the node off the network.
crash_dir() {
    pids=$(daemon_pids "$1")
    d=${1#dir}
    kill -9 $pids
    ip -n lan link set p${d}0 down
    ip -n lan link set p${d}1 down
    reap "$1" 1
}
# A reboot: clean kernel state, links up.
reboot_dir() {
    d=${1#dir}
    ip netns exec "$1" ipvsadm -C
    ip netns exec "$1" ipvsadm --stop-daemon master 2>/dev/null || true
    ip netns exec "$1" ipvsadm --stop-daemon backup 2>/dev/null || true
    ip -n "$1" addr del $VIP/24 dev eth0 2>/dev/null || true
    ip -n "$1" addr del $GW/24 dev eth1 2>/dev/null || true
    ip -n lan link set p${d}0 up
    ip -n lan link set p${d}1 up
}
stop_all() {
    for d in dirA dirB; do
        pids=$(daemon_pids $d)
        [ -z "$pids" ] || kill $pids 2>/dev/null || true
    done
    for d in dirA dirB; do reap $d 6; done
    [ -z "$CLIENT" ] || { kill "$CLIENT" 2>/dev/null || true; wait "$CLIENT" 2>/dev/null || true; }
    [ -z "$HOLD" ] || { kill "$HOLD" 2>/dev/null || true; wait "$HOLD" 2>/dev/null || true; }
    cap_stop
    for x in $MA $MB; do kill "$x" 2>/dev/null || true; done
    MA=""
    MB=""
    CLIENT=""
    HOLD=""
}
CLIENT=""
HOLD=""
MA=""
MB=""
cleanup() {
    set +e
    say "cleanup at $(date +%T.%3N)"
    stop_all
    for d in dirA dirB; do ip -n lan link show p${d#dir}0 >/dev/null 2>&1 && reboot_dir $d; done
    lab_cleanup
    say "cleaned up at $(date +%T.%3N)"
}
trap cleanup EXIT

has() { ip -n "$1" -br addr show dev "$2" 2>/dev/null | grep -q " $3/"; }
# dirX holds both VIPs, and (unless $2 = any) the other none (a crashed
# node keeps its VIPs in the kernel; off the network they do not matter).
master_is() {
    o=dirA
    [ "$1" = dirA ] && o=dirB
    has "$1" eth0 $VIP && has "$1" eth1 $GW || return 1
    [ "$2" = any ] || { ! has $o eth0 $VIP && ! has $o eth1 $GW; }
}
wait_master() { # dirX seconds [any] -> 0 within the bound; ELAPSED_MS
    t0=$(now_ms)
    i=0
    while [ $i -lt $(($2 * 20)) ]; do
        if master_is "$1" "$3"; then ELAPSED_MS=$(($(now_ms) - t0)); return 0; fi
        sleep 0.05
        i=$((i + 1))
    done
    ELAPSED_MS=$(($(now_ms) - t0))
    return 1
}
dests() { ip netns exec "$1" ipvsadm -Sn 2>/dev/null | grep -c '^-a' || true; }

# New VRRP lines of a director's log since the last call.
show_log() {
    f=$LAB_TMP/$1-$IMPL.log
    eval "seen=\${SEEN_$1_$IMPL:-0}"
    total=$(wc -l < "$f")
    if [ "$total" -gt "$seen" ]; then
        tail -n +$((seen + 1)) "$f" | grep -E 'VRRP VI_|sync daemon|connection hand-over|\) Entering|Sync group|started:|stopped' |
            sed "s/^/    [$1] /" | head -n 20 || true
    fi
    eval "SEEN_$1_$IMPL=$total"
}
logs() { show_log dirA; show_log dirB; }
tables() {
    for d in dirA dirB; do
        echo "    --- $d: lvsd list -n"
        ip netns exec $d "$LVSD" list -n 2>&1 | sed 's/^/    /'
    done
}

# Switches the client's phase; tells how the previous one went.
PREV=""
phase() { # name [explanation, demo only]
    echo "$1" > "$PH"
    if [ -n "$PREV" ] && [ -s "$REQ" ]; then
        sleep 0.3
        awk -v p="$PREV" '$1 == p { n[$2]++; if ($3 != "ok") f[$2]++; if ($4 > w[$2]) w[$2] = $4 }
            END { for (m in n) printf "    requests in %s so far, %s: %d sent, %d failed, worst %.2f s\n", p, m, n[m], f[m], w[m] }' "$REQ"
    fi
    PREV=$1
    if [ -n "$2" ]; then explain "$2"; fi
    say "phase $1 ($IMPL) at $(date +%T.%3N)"
}
REQ=/dev/null
# VRRP adverts of VI_1 on the LAN, for the whole run (epoch timestamps).
cap_start() {
    ip netns exec lan tcpdump -i br0 -n -tt -l 'ip proto 112' > "$LAB_TMP/cap-$IMPL" 2> "$LAB_TMP/cap-$IMPL.err" </dev/null &
    CAP=$!
    wait_for "grep -q listening $LAB_TMP/cap-$IMPL.err" 15 || say "  (tcpdump did not start: no advert timings)"
}
cap_stop() {
    [ -z "$CAP" ] || { kill "$CAP" 2>/dev/null || true; wait "$CAP" 2>/dev/null || true; }
    CAP=""
}
CAP=""
# crash: A's last advert before T -> B's first advert after T;
# graceful: A's first priority-0 advert after T -> B's first advert after it.
advert_gap() { # crash|graceful epoch-T
    awk -v kind="$1" -v t="$2" '
        / vrid 51,/ {
            prio = $0; sub(/.* prio /, "", prio); sub(/,.*/, "", prio)
            src = $3; ts = $1 + 0
            if (kind == "crash") {
                # A is dead after T (killed, unplugged): its last advert is
                # the last one before B speaks.
                if (src == "10.10.0.3" && ts > t && !firstB) firstB = ts
                if (src == "10.10.0.2" && prio > 0 && !firstB) lastA = ts
            } else {
                if (src == "10.10.0.2" && prio == 0 && ts > t && !lastA) lastA = ts
                if (src == "10.10.0.3" && lastA && ts >= lastA && !firstB) firstB = ts
            }
        }
        END { if (lastA && firstB) printf "%.3f\n", firstB - lastA }' "$LAB_TMP/cap-$IMPL"
}
explain() { if demo; then echo "  >> $*"; fi; }
PAUSE=3
if demo; then PAUSE=1; fi
took() { # phase ms
    echo "$1 $2" >> "$LAB_TMP/took-$IMPL"
    say "  $1: $3 $(secs "$2") s"
}

# --- one run -------------------------------------------------------------
run_impl() { # lvsd | keepalived
    IMPL=$1
    : > "$LAB_TMP/took-$IMPL"
    say "=== $IMPL: dirA priority 150, dirB priority 100"
    reboot_dir dirA
    reboot_dir dirB
    cap_start
    start_dir dirA
    start_dir dirB
    wait_master dirA 25 || { logs; fail "$IMPL: dirA never became the only master"; }
    took startup "$ELAPSED_MS" "dirA master after"
    wait_for "[ \$(ip netns exec dirA ipvsadm -Sn | grep -c '^-a') -eq 6 ] && [ \$(ip netns exec dirB ipvsadm -Sn | grep -c '^-a') -eq 6 ]" 20 ||
        fail "$IMPL: the IPVS tables are incomplete (dirA $(dests dirA), dirB $(dests dirB) real servers)"
    logs
    if demo; then tables; fi
    REQ=$LAB_TMP/req-$IMPL.log
    : > "$REQ"
    PREV=""
    phase warm "both directors have the same IPVS table; dirA (priority 150) holds the VIPs; the client starts"
    ip netns exec cli python3 $TOOL client "$REQ" "$PH" DR=http://$VIP:80/ NAT=http://$VIP:8080/ </dev/null &
    CLIENT=$!
    wait_for "[ \$(wc -l < $REQ) -ge 4 ]" 20 || fail "$IMPL: the client made no requests"
    sleep 2

    phase crash "crash: dirA is SIGKILLed and unplugged; dirB takes over when 3 adverts are missing (3 x 1 s + skew 0.61 s)"
    t0=$(now_ms)
    T_CRASH=$(date +%s.%N)
    crash_dir dirA
    say "  dirA: SIGKILL, links down"
    wait_master dirB 15 any || { logs; fail "$IMPL: dirB did not take over after the crash"; }
    took crash $(($(now_ms) - t0)) "dirB holds the VIPs after"
    logs
    sleep $((PAUSE + 1))
    if demo; then tables; fi

    phase restore1 "dirA reboots (clean kernel state) and starts lvsd: first its IPVS table, then VRRP; it preempts dirB"
    reboot_dir dirA
    start_dir dirA
    t0=$(now_ms)
    wait_master dirA 20 || { logs; fail "$IMPL: restarted dirA did not preempt"; }
    took restore1 $(($(now_ms) - t0)) "dirA preempted after"
    logs
    sleep $PAUSE

    phase graceful "graceful stop: SIGTERM to dirA; it sends priority 0 but keeps the VIPs and forwarding until dirB's advert is heard, plus 0.2 s for dirB's GARPs"
    gap=no
    # Address events with timestamps: when dirA dropped the VIP, when dirB added it.
    ip -n dirA -ts monitor address > "$LAB_TMP/monA" 2>&1 </dev/null &
    MA=$!
    ip -n dirB -ts monitor address > "$LAB_TMP/monB" 2>&1 </dev/null &
    MB=$!
    sleep 0.5
    if [ $IMPL = lvsd ]; then handover_setup; fi
    eval "p=\$PID_dirA"
    t0=$(now_ms)
    T_TERM=$(date +%s.%N)
    kill -TERM "$p"
    i=0
    while [ $i -lt 200 ]; do
        a=no
        b=no
        has dirA eth0 $VIP && a=yes
        has dirB eth0 $VIP && b=yes
        [ $a = no ] && [ $b = no ] && gap=yes
        if [ $b = yes ] && [ $a = no ]; then break; fi
        sleep 0.02
        i=$((i + 1))
    done
    wait_master dirB 10 || { logs; fail "$IMPL: dirB did not take over on graceful stop"; }
    took graceful $(($(now_ms) - t0)) "dirB sole holder after"
    reap dirA 10
    kill $MA $MB 2>/dev/null || true
    wait $MA $MB 2>/dev/null || true
    # > 0: both held the VIP for that long (make-before-break); < 0: nobody did.
    ov=$(awk -v vip=" $VIP/" '
        function secs(t, a) { split(t, a, /[T:\]]/); return a[2] * 3600 + a[3] * 60 + a[4] }
        index($0, vip) && FILENAME ~ /monA$/ && / Deleted / && !del { del = secs($1) }
        index($0, vip) && FILENAME ~ /monB$/ && !/ Deleted / && !add { add = secs($1) }
        END { if (del && add) printf "%.3f\n", del - add }' "$LAB_TMP/monA" "$LAB_TMP/monB")
    if [ -n "$ov" ]; then
        case $ov in -*) gap=yes ;; esac
        say "  VIP held by both for $ov s (negative: unowned) between dirB adding it and dirA dropping it"
        echo "overlap $ov" >> "$LAB_TMP/took-$IMPL"
    fi
    say "  VIP unowned at some point during the hand-over: $gap"
    echo "gap-$gap 0" >> "$LAB_TMP/took-$IMPL"
    logs
    if [ $IMPL = lvsd ]; then handover_check; fi
    sleep $PAUSE
    if demo; then tables; fi

    phase restore2 "dirA comes back again and preempts"
    reboot_dir dirA
    start_dir dirA
    t0=$(now_ms)
    wait_master dirA 20 || { logs; fail "$IMPL: restarted dirA did not preempt"; }
    took restore2 $(($(now_ms) - t0)) "dirA preempted after"
    logs
    sleep $PAUSE

    if [ $IMPL = lvsd ]; then sync_test; fi
    phase stop
    wait "$CLIENT" 2>/dev/null || true
    CLIENT=""
    stop_all
    cap_stop
    g=$(advert_gap crash "$T_CRASH")
    [ -z "$g" ] || { echo "advert-crash $g" >> "$LAB_TMP/took-$IMPL"; say "  crash: B's first advert $g s after A's last one (3 x 1 s + skew 0.609 s expected)"; }
    if ! demo; then
        say "  VI_1 adverts around the crash (tcpdump on the LAN):"
        awk -v t="$T_CRASH" '/ vrid 51,/ && $1 > t - 2.5 && $1 < t + 6 { printf "    %+.3f %s %s\n", $1 - t, $3, $0 ~ /prio 0,/ ? "prio 0" : "" }' "$LAB_TMP/cap-$IMPL" | head -n 12
    fi
    g=$(advert_gap graceful "$T_TERM")
    [ -z "$g" ] || { echo "advert-graceful $g" >> "$LAB_TMP/took-$IMPL"; say "  graceful: B's first advert $g s after A's priority-0 advert (skew 0.609 s expected)"; }
    if grep -qv ' ok ' "$REQ"; then
        say "  failed requests (phase mode why seconds ended-at):"
        grep -v ' ok ' "$REQ" | sed 's/^/    /'
    fi
    logs
    reboot_dir dirA
    reboot_dir dirB
    for ph in warm crash restore1 graceful restore2 sync; do
        for m in DR NAT; do
            awk -v p=$ph -v m=$m '$1 == p && $2 == m { n++; if ($3 != "ok") f++; if ($4 > w) w = $4 }
                END { if (n) printf "%s %s %d %d %.2f\n", p, m, n, f, w }' "$REQ"
        done
    done > "$LAB_TMP/sum-$IMPL"
    say "=== $IMPL: phase mode sent failed worst-latency(s)"
    sed 's/^/    /' "$LAB_TMP/sum-$IMPL"
}

# The graceful hand-over copies connections the kernel sync daemon has not
# sent: dirA's kernel is told to sync an established connection only at
# its 1000th packet, so a long-lived connection opened through dirA just
# before its SIGTERM is not in dirB's table; after the hand-over it is, and
# it keeps working.
handover_setup() {
    ip netns exec dirA sysctl -qw net.ipv4.vs.sync_threshold="1000 0"
    HL=$LAB_TMP/hold-handover.log
    : > "$HL"
    ip netns exec cli python3 $TOOL hold $VIP 9000 "$HL" "$PH" </dev/null &
    HOLD=$!
    wait_for "[ \$(grep -c ' ok ' $HL) -ge 2 ]" 20 || fail "the hand-over connection did not start: $(cat "$HL")"
    HO_PORT=$(awk 'NR == 1 { print $4 }' "$HL")
    if ip netns exec dirB ipvsadm -Lnc | grep -q "10.10.0.10:$HO_PORT "; then
        fail "precondition: dirA's kernel synced 10.10.0.10:$HO_PORT to dirB although sync_threshold is 1000"
    fi
    HO_BEFORE=$(grep -c ' ok ' "$HL")
    say "  connection 10.10.0.10:$HO_PORT -> $VIP:9000 through dirA, not in dirB's table (dirA's kernel would sync it only at its 1000th packet)"
}
handover_check() {
    present=no
    ip netns exec dirB ipvsadm -Lnc | grep -q "10.10.0.10:$HO_PORT " && present=yes
    wait_for "[ \$(grep -c ' ok ' $HL) -ge $((HO_BEFORE + 3)) ] || grep -q ' fail ' $HL" 20 || true
    fails=$(grep -c ' fail ' "$HL" || true)
    after=$(($(grep -c ' ok ' "$HL") - HO_BEFORE))
    kill "$HOLD" 2>/dev/null || true
    wait "$HOLD" 2>/dev/null || true
    HOLD=""
    ip netns exec dirA sysctl -qw net.ipv4.vs.sync_threshold="3 50"
    say "  hand-over: that connection in dirB's table after the switch: $present; $after pings after the SIGTERM, $fails failed"
    echo "handover $present $after $fails" > "$LAB_TMP/handover-sum"
    [ $present = yes ] || fail "the graceful hand-over did not copy the connection to dirB"
    [ "$fails" = 0 ] && [ "$after" -ge 3 ] || fail "the connection copied at the hand-over did not keep working"
}

# A long-lived connection to VIP:9000 (DR) through dirA, synced to dirB by
# the IPVS sync daemons, survives dirA's crash.
sync_test() {
    phase sync "a long-lived TCP connection through dirA; lvs_sync_daemon copies it to dirB's table; then dirA crashes"
    HL=$LAB_TMP/hold.log
    : > "$HL"
    ip netns exec cli python3 $TOOL hold $VIP 9000 "$HL" "$PH" </dev/null &
    HOLD=$!
    wait_for "[ \$(grep -c ' ok ' $HL) -ge 3 ]" 20 || fail "the long-lived connection did not start: $(cat "$HL")"
    lport=$(awk 'NR == 1 { print $4 }' "$HL")
    say "  long-lived connection 10.10.0.10:$lport -> $VIP:9000 (ping every 0.5 s)"
    wait_for "ip netns exec dirB ipvsadm -Lnc | grep -q '10.10.0.10:$lport '" 20 || {
        ip netns exec dirB ipvsadm -Lnc
        logs
        fail "the connection was not synced to the backup director"
    }
    say "  dirB (backup) connection table (ipvsadm -Lnc, :9000), synced from dirA:"
    ip netns exec dirB ipvsadm -Lnc | awk 'NR == 1 || /:9000 /' | head -n 6 | sed 's/^/    /'
    before=$(grep -c ' ok ' "$HL")
    t0=$(now_ms)
    crash_dir dirA
    say "  dirA: SIGKILL, links down"
    wait_master dirB 15 any || { logs; fail "dirB did not take over (sync test)"; }
    took sync $(($(now_ms) - t0)) "dirB holds the VIPs after"
    logs
    wait_for "[ \$(grep -c ' ok ' $HL) -ge $((before + 4)) ] || grep -q ' fail ' $HL" 20 || true
    fails=$(grep -c ' fail ' "$HL" || true)
    after=$(($(grep -c ' ok ' "$HL") - before))
    worst=$(awk '$3 > w { w = $3 } END { printf "%.2f", w }' "$HL")
    say "  dirB (new master) connection table (ipvsadm -Lnc, :9000):"
    ip netns exec dirB ipvsadm -Lnc | awk 'NR == 1 || /:9000 /' | head -n 6 | sed 's/^/    /'
    say "  long-lived connection: $before pings before the crash, $after after, $fails failed, worst echo $worst s"
    echo "hold $before $after $fails $worst" > "$LAB_TMP/hold-sum"
    [ "$fails" = 0 ] && [ "$after" -ge 4 ] || fail "the long-lived connection did not survive the failover"
    # dirA comes back for the end of the run (not worth the wait in a demo).
    if ! demo; then
        reboot_dir dirA
        start_dir dirA
        wait_master dirA 20 || { logs; fail "restarted dirA did not preempt (sync test)"; }
        logs
    fi
    kill "$HOLD" 2>/dev/null || true
    wait "$HOLD" 2>/dev/null || true
    HOLD=""
}

wait_for "ip netns exec rs1 ss -ltn | grep -q ':9000 ' && ip netns exec rs2 ss -ltn | grep -q ':9000 '" 30 ||
    fail "the real servers did not start"
run_impl lvsd
if ! demo; then run_impl keepalived; fi

# --- the figures -----------------------------------------------------------
get() { # impl phase mode field(3 sent, 4 failed, 5 worst)
    awk -v p="$2" -v m="$3" -v f="$4" '$1 == p && $2 == m { print $f }' "$LAB_TMP/sum-$1"
}
took_of() { awk -v p="$2" '$1 == p { print $2 }' "$LAB_TMP/took-$1"; }
echo
say "results (advert_int 1, client deadline 3 s per request, one request every 0.1 s per mode)"
if demo; then
    printf '    %-9s %-4s %-22s %s\n' phase mode "lvsd sent/failed/worst" "VIPs moved after (polled)"
else
    printf '    %-9s %-4s %-22s %-22s %s\n' phase mode "lvsd sent/failed/worst" "keepalived" "VIPs moved after (polled) lvsd / keepalived"
fi
for ph in warm crash restore1 graceful restore2 sync; do
    for m in DR NAT; do
        l=$(get lvsd $ph $m 3)
        [ -n "$l" ] || continue
        lv="$l/$(get lvsd $ph $m 4)/$(get lvsd $ph $m 5)s"
        tl=$(took_of lvsd $ph)
        t=""
        [ -z "$tl" ] || t="$(secs "$tl") s"
        if demo; then
            printf '    %-9s %-4s %-22s %s\n' $ph $m "$lv" "$t"
        else
            k=$(get keepalived $ph $m 3)
            kv="-"
            [ -z "$k" ] || kv="$k/$(get keepalived $ph $m 4)/$(get keepalived $ph $m 5)s"
            tk=$(took_of keepalived $ph)
            [ -z "$tk" ] || t="$t / $(secs "$tk") s"
            printf '    %-9s %-4s %-22s %-22s %s\n' $ph $m "$lv" "$kv" "$t"
        fi
    done
done
for k in crash graceful; do
    l=$(took_of lvsd advert-$k)
    line="  on the wire, $k: new master's first advert after the old master's last (crash) / priority-0 (graceful) advert: lvsd ${l:-?} s"
    demo || line="$line, keepalived $(took_of keepalived advert-$k) s"
    say "$line"
done
say "  graceful, VIP held by both (negative: by nobody) for: lvsd $(took_of lvsd overlap) s$(demo || echo ", keepalived $(took_of keepalived overlap) s")"
say "keepalived reference in issue #6 (DR): crash 1 failed, worst 3.0 s; graceful 0 failed, worst 1.13 s"

# --- the verdict -------------------------------------------------------------
# Graceful stop: the VIP is never unowned (timestamped address events) and
# no request times out. The connections dirA opened are copied to dirB
# before the switch (connection hand-over, proven deterministically by
# handover_check above), so requests in flight keep working; what remains
# is a race of a few milliseconds: a connection dirA opens just before the
# clients and real servers switch to dirB can reach dirB before its copy
# does (DR: reset; NAT: the real server's reply is lost and the client
# resends its SYN a second later). Measured: no request hit in most runs;
# asserted: at most one request per mode hit (reset, or 1 s or more).
gap=$(awk '$1 ~ /^gap-/ { print substr($1, 5) }' "$LAB_TMP/took-lvsd")
[ "$gap" = no ] || fail "lvsd: the VIP was unowned during the graceful hand-over"
for m in DR NAT; do
    [ "$(get lvsd warm $m 4)" = 0 ] || fail "lvsd: $m requests failed in steady state"
    bad=$(awk -v m=$m '$1 == "graceful" && $2 == m && $3 != "ok" && $3 != "reset"' "$LAB_TMP/req-lvsd.log" | wc -l)
    [ "$bad" = 0 ] || fail "lvsd: $bad $m requests timed out or failed otherwise than by a reset during the graceful stop"
    hit=$(awk -v m=$m '$1 == "graceful" && $2 == m && ($3 != "ok" || $4 >= 1.0)' "$LAB_TMP/req-lvsd.log" | wc -l)
    [ "$hit" -le 1 ] || fail "lvsd: $hit $m requests were reset or waited 1 s or more during the graceful stop"
    allowed=2
    if ! demo; then
        k=$(get keepalived crash $m 4)
        [ "$k" -le $allowed ] || allowed=$k
    fi
    [ "$(get lvsd crash $m 4)" -le $allowed ] || fail "lvsd: $(get lvsd crash $m 4) $m requests failed in the crash (allowed $allowed)"
done
pass
