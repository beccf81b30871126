#!/bin/sh
# Every lab scenario in one boot (a boot costs ~15 s under TCG).
failed=""
passed=0
nfail=0
for s in tests/lab/smoke.sh tests/lab/daemon.sh tests/lab/director.sh tests/lab/ipvs.sh tests/lab/ipvs-globals.sh tests/lab/reload-big.sh tests/lab/vrrp.sh; do
    echo "=== $s"
    if sh "$s"; then echo "=== $s: PASS"; passed=$((passed + 1)); else echo "=== $s: FAIL"; failed="$failed $s"; nfail=$((nfail + 1)); fi
done
if [ -n "$failed" ]; then
    echo "lab: $passed passed, $nfail failed"
    echo "LAB-RESULT: FAIL$failed"
    exit 1
fi
echo "lab: $passed passed, 0 failed"
echo "LAB-RESULT: PASS"
