#!/usr/bin/env bash
# The paper's evaluation (§VI): all 8 Table V benchmarks x all design points, twice — the first run
# computes (cold cache), the second is served from the cache. Prints both wall times.
# Usage: benchmarks/bench_all.sh [OUT_DIR] [CACHE_DIR]   (defaults: results/ and a fresh temporary cache)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results}
cache=${2:-$(mktemp -d -t lergan-bench-cache-XXXX)}
for run in cold cached; do
  start=$(date +%s.%N)
  lergan-bench --out "$out" --cache-dir "$cache"
  end=$(date +%s.%N)
  printf '%s run: %.1f s\n' "$run" "$(echo "$end - $start" | bc)"
done
