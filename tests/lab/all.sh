#!/bin/sh
# Every lab scenario in one boot (a boot costs ~15 s under TCG).
failed=""
for s in tests/lab/smoke.sh tests/lab/ipvs.sh; do
    echo "=== $s"
    if sh "$s"; then echo "=== $s: PASS"; else echo "=== $s: FAIL"; failed="$failed $s"; fi
done
if [ -n "$failed" ]; then
    echo "LAB-RESULT: FAIL$failed"
    exit 1
fi
echo "LAB-RESULT: PASS"
