# Helpers for lab scenarios (sourced inside the guest).
LAB_NETNS=""
lab_cleanup() {
    for ns in $LAB_NETNS; do ip netns del "$ns" 2>/dev/null || true; done
}
trap lab_cleanup EXIT
pass() { echo "LAB-RESULT: PASS"; exit 0; }
fail() { echo "LAB-RESULT: FAIL $*"; exit 1; }
assert_eq() { # expected actual what
    if [ "$1" != "$2" ]; then
        echo "--- expected ($3)"; printf '%s\n' "$1"
        echo "--- actual"; printf '%s\n' "$2"
        printf '%s\n' "$1" > /tmp/lab-expected; printf '%s\n' "$2" > /tmp/lab-actual
        diff -u /tmp/lab-expected /tmp/lab-actual || true
        fail "$3 differs"
    fi
}
netns_add() { ip netns add "$1"; LAB_NETNS="$LAB_NETNS $1"; ip -n "$1" link set lo up; }
wait_for() { # command timeout_seconds
    i=0
    while [ "$i" -lt "$(( $2 * 10 ))" ]; do
        sh -c "$1" >/dev/null 2>&1 && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
