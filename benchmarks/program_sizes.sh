#!/bin/bash
# Program sizes (docs/performance.md, "Program size"): bytes of the FSM program of every Table V
# benchmark at --replica low/high, with one copy of each matrix and with --data-parallel auto.
# Usage: benchmarks/program_sizes.sh [BASE_CHECKOUT BASE_VENV]  (BASE_*: an older commit to compare)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
size() { stat -c %s "$1"; }
printf "benchmark\treplica\tbase\tdp1\tauto\n"
for m in dcgan cgan 3dgan artgan_cifar10 gpgan magan_mnist discogan_4pairs discogan_5pairs; do
  for r in low high; do
    base=NA
    if [ $# -ge 2 ]; then
      (cd "$1" && "$2/bin/lerganc" "examples/$m.lergan" --replica $r -o "$tmp/base.fsm" 2>/dev/null)
      base=$(size "$tmp/base.fsm")
    fi
    (cd "$here" && lerganc "examples/$m.lergan" --replica $r -o "$tmp/one.fsm" 2>/dev/null)
    (cd "$here" && lerganc "examples/$m.lergan" --replica $r --data-parallel auto -o "$tmp/auto.fsm" 2>/dev/null)
    printf "%s\t%s\t%s\t%s\t%s\n" $m $r $base "$(size "$tmp/one.fsm")" "$(size "$tmp/auto.fsm")"
  done
done
