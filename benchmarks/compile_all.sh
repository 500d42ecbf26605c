#!/usr/bin/env bash
# Time lerganc on the 8 Table V benchmarks with hyperfine (apt-get install hyperfine).
# Usage: benchmarks/compile_all.sh [EMIT] [OUT.md]   (EMIT defaults to analysis; fsm once emit-fsm exists)
set -euo pipefail
cd "$(dirname "$0")/.."
emit=${1:-analysis}
out=${2:-benchmarks/results/compile_${emit}.md}
mkdir -p "$(dirname "$out")"
cmds=()
for m in dcgan cgan 3dgan artgan_cifar10 gpgan magan_mnist discogan_4pairs discogan_5pairs; do
  cmds+=("lerganc examples/$m.lergan --emit $emit -o /dev/null")
done
hyperfine --warmup 1 --runs 5 --export-markdown "$out" "${cmds[@]}"
