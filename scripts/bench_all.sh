#!/usr/bin/env bash
# Runs every benchmark behind BENCHMARKS.md and keeps the raw output, with
# the machine, the commit and the load before and after each step, in
# target/bench-logs/<UTC time>/. Takes ~15 min plus release builds (the
# aws-lc-rs build adds ~5 min when cold). Run it on a quiet machine:
# results taken while other work runs are inflated and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
out="target/bench-logs/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
{
  echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty)')"
  echo "date: $(date -u)"
  echo "rustc: $(rustc --version)"
  lscpu | grep -E 'Model name|^CPU\(s\)|Thread|L1d|L2|L3' || true
  echo "sha_ni: $(grep -c sha_ni /proc/cpuinfo || true) of $(nproc) cpus"
} | tee "$out/machine.txt"

step() {
  local name=$1
  shift
  echo "=== $name: load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/load.txt"
  "$@" >"$out/$name.txt" 2>&1
  echo "=== $name: load after:  $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/load.txt"
}

# Build first, so that compiling does not overlap any measurement.
cargo bench --no-run --bench spf >/dev/null 2>&1
cargo build --release --example spf_latency >/dev/null 2>&1
cargo bench --no-run --features sign --bench dkim >/dev/null 2>&1
cargo bench --no-run --features sign,aws-lc-rs --bench dkim >/dev/null 2>&1

step spf-criterion cargo bench --bench spf -- --warm-up-time 1 --measurement-time 3
step spf-cputime env SPF_CPU_TIME=1 cargo bench --bench spf
step spf-latency cargo run --release --example spf_latency
step dkim-default cargo bench --features sign --bench dkim -- --warm-up-time 1 --measurement-time 3
step dkim-aws-lc cargo bench --features sign,aws-lc-rs --bench dkim -- --warm-up-time 1 --measurement-time 3
echo "logs in $out"
