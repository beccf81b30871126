# Helpers for lab scenarios, sourced inside the guest (POSIX sh: scenarios
# run under /bin/sh, i.e. dash, from the repo root).
#
#   pass                      print "LAB-RESULT: PASS", exit 0
#   fail "why"                print "LAB-RESULT: FAIL why", exit 1
#   assert_eq WANT GOT WHAT   on mismatch: unified diff, then fail
#   netns_add NAME            create a netns with lo up; deleted at exit
#   run_bg CMD [ARGS...]      start CMD in the background (stdin /dev/null);
#                             its pid is in $LAB_LAST_PID; killed at exit
#   wait_for CMD SECONDS      poll the shell command CMD every 0.1 s until it
#                             succeeds (0) or SECONDS have passed (1)
#
# The cleanup runs on exit (pass, fail, set -e or the end of the script) and
# keeps the exit status.
LAB_NETNS=""
LAB_BG_PIDS=""
LAB_LAST_PID=""
LAB_TMP=$(mktemp -d /tmp/lab.XXXXXX)

lab_cleanup() {
    for p in $LAB_BG_PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $LAB_BG_PIDS; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ "$i" -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null || true
    done
    for ns in $LAB_NETNS; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$LAB_TMP"
}
trap lab_cleanup EXIT
trap 'exit 130' INT TERM

pass() { echo "LAB-RESULT: PASS"; exit 0; }
fail() { echo "LAB-RESULT: FAIL $*"; exit 1; }

assert_eq() { # expected actual what
    if [ "$1" != "$2" ]; then
        printf '%s\n' "$1" > "$LAB_TMP/expected"
        printf '%s\n' "$2" > "$LAB_TMP/actual"
        echo "--- mismatch: $3"
        diff -u --label "expected ($3)" --label "actual" "$LAB_TMP/expected" "$LAB_TMP/actual" || true
        fail "$3 differs"
    fi
}

netns_add() {
    ip netns add "$1"
    LAB_NETNS="$LAB_NETNS $1"
    ip -n "$1" link set lo up
}

# Not meant for command substitution: `x=$(run_bg ...)` would wait for the
# background job (it holds the pipe open). Use $LAB_LAST_PID instead.
run_bg() {
    "$@" </dev/null &
    LAB_LAST_PID=$!
    LAB_BG_PIDS="$LAB_BG_PIDS $LAB_LAST_PID"
}

wait_for() { # command timeout_seconds
    i=0
    while [ "$i" -lt "$(($2 * 10))" ]; do
        sh -c "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
