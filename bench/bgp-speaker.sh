#!/usr/bin/env bash
# tabby's BGP speaker beside BIRD 2, FRR and GoBGP, in one run, with the
# shared harness (../shared/bench: injector -> DUT -> receiver in namespaces).
#   NS="10000 100000 1000000" REPS=3 bash bench/bgp-speaker.sh
# Writes bench/results/bgp.jsonl and prints the table with ratios to BIRD.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
harness=${HARNESS:-$here/../../shared/bench}
[ -d "$harness" ] || { echo "no harness at $harness (set HARNESS)" >&2; exit 1; }
export TABBY_BIN=${TABBY_BIN:-$here/../bin/tabby}   # a built snapshot elsewhere keeps a rebuild of this checkout out of the run
mkdir -p "$here/results"
out=$here/results/bgp.jsonl
: > "$out"
cd "$harness"
DUTS=${DUTS:-"bird2 frr gobgp duts/tabby"} NS=${NS:-"10000 100000 1000000"} REPS=${REPS:-3} FIB_REPS=${FIB_REPS:-0} OUT=$out ./bench.sh
python3 ./report.py "$out" --ref bird2
