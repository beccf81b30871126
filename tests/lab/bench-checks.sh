#!/bin/sh
# Benchmark (prints figures; not part of all.sh): 2,000 VS x 20 RS with
# TCP_CHECK at delay_loop 60 s (keepalived's default; 667 checks/s) against
# one listener on an AnyIP route, lvsd and keepalived 2.2.7 one after the
# other in fresh namespaces of this guest, checks counted at the listener.
# Usage: scripts/lab run tests/lab/bench-checks.sh [SECONDS] [LVSD] [ONLY]
# ONLY (lvsd or keepalived) runs one contender. Also runs on a host without
# IPVS (scripts/bench-director-host): LVSD is then lvsd on a simulated IPVS
# kernel and ONLY lvsd.
set -e
. scripts/lab.d/guest-lib.sh
RUN=${1:-270}
LVSD=${2:-target/release/lvsd}
CONTENDERS=${3:-lvsd keepalived}
WIN_FROM=$((RUN * 5 / 9))
T=$LAB_TMP
python3 scripts/gen-big-config 2000 20 > "$T/bench-checks.conf"
cat > "$T/listener.py" <<'PY'
import json, select, socket, sys, time
run, out = float(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen(4096)
s.setblocking(False)
t0 = time.monotonic()
t0_wall = time.time()
open(out + ".ready", "w").close()
first, last, gaps, per_sec = None, {}, {}, {}
while time.monotonic() - t0 < run:
    r, _, _ = select.select([s], [], [], 0.2)
    if not r:
        continue
    for _ in range(256):
        try:
            c, _ = s.accept()
        except BlockingIOError:
            break
        now = time.monotonic() - t0
        dst = c.getsockname()[0]
        c.close()
        if first is None:
            first = now
        per_sec[int(now)] = per_sec.get(int(now), 0) + 1
        if dst in last:
            gaps[dst] = max(gaps.get(dst, 0.0), now - last[dst])
        last[dst] = now
json.dump({"first": first, "t0_wall": t0_wall, "per_sec": per_sec, "seen": len(last),
           "max_gap": max(gaps.values()) if gaps else None,
           "last": last}, open(out, "w"))
PY
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
report() { # name json cpu_ticks_in_window rss_kb started_wall
    python3 - "$1" "$2" "$3" "$4" "$RUN" "$WIN_FROM" "$5" <<'PY'
import json, os, sys
name, path, ticks, rss, run, wfrom = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
started = float(sys.argv[7])
d = json.load(open(path))
per = {int(k): v for k, v in d["per_sec"].items()}
win = sum(v for k, v in per.items() if wfrom <= k < run)
secs = run - wfrom
rate = win / secs
hz = os.sysconf("SC_CLK_TCK")
cpu = ticks / hz
quiet = 0
longest = 0
for k in range(wfrom, run):
    if per.get(k, 0) == 0:
        quiet += 1
        longest = max(longest, quiet)
    else:
        quiet = 0
# The first check, from the daemon's start (not the listener's).
first = d["first"] + d["t0_wall"] - started if d["first"] is not None else float("nan")
print(f"BENCH checks {name}: first check {first:.1f} s after start; {rate:.0f} checks/s in {wfrom}-{run} s "
      f"({100 * rate / 666.7:.0f} % of schedule); longest silent gap {longest} s; "
      f"real servers checked {d['seen']}/40000; longest gap for one real server {d['max_gap'] or 0:.1f} s; "
      f"CPU {100 * cpu / secs:.0f} % of a core, {1000 * cpu / max(win, 1):.2f} ms per check; RSS {rss / 1024:.0f} MB")
PY
}
contender() { # name command...
    name=$1; shift
    ns=bc$name
    netns_add "$ns"
    ip -n "$ns" route add local 10.200.0.0/13 dev lo
    ip netns exec "$ns" python3 "$T/listener.py" "$RUN" "$T/listen-$name.json" &
    LP=$!
    wait_for "[ -e $T/listen-$name.json.ready ]" 30 || fail "listener did not start"
    started=$(date +%s.%N)
    ip netns exec "$ns" "$@" > "$T/bench-$name.log" 2>&1 &
    CP=$!
    sleep "$WIN_FROM"
    pid=$CP
    if [ "$name" = keepalived ]; then
        pid=$(cat "$T/bench-ka-checker.pid" 2>/dev/null || echo "$CP")
    fi
    c0=$(cpu_ticks "$pid")
    wait "$LP" || true
    c1=$(cpu_ticks "$pid")
    rss=$(rss_kb "$pid")
    kill "$CP" 2>/dev/null || true
    i=0; while kill -0 "$CP" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$CP" 2>/dev/null || true
    report "$name" "$T/listen-$name.json" "$((c1 - c0))" "$rss" "$started"
    grep -E "start-up|^lvsd: started" "$T/bench-$name.log" | sed "s/^/BENCH log $name: /" || true
    if [ "$name" = lvsd ]; then
        echo "BENCH log lvsd: $(grep -c 'is down' "$T/bench-lvsd.log" || true) real servers went down"
    fi
    ip netns del "$ns"
}
for c in $CONTENDERS; do
    case $c in
    lvsd) contender lvsd $LVSD -f "$T/bench-checks.conf" --owned-file "$T/bench-owned" --control-socket "$T/bench-lvsd.sock" ;;
    keepalived) contender keepalived keepalived -n -l -C -f "$T/bench-checks.conf" -p "$T/bench-ka.pid" -c "$T/bench-ka-checker.pid" ;;
    *) fail "unknown contender $c" ;;
    esac
done
pass
