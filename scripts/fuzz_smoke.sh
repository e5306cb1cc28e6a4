#!/usr/bin/env bash
# Fuzz smoke runs for CI: installs cargo-fuzz if missing, generates seed
# corpora, builds every fuzz target and runs each for FUZZ_SMOKE_SECS
# seconds (default 20), FUZZ_SMOKE_JOBS at a time (default 2). Fails if any
# target reports a finding (crash, panic, timeout, out-of-memory); the
# reproducer is left in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SMOKE_SECS:-20}
JOBS=${FUZZ_SMOKE_JOBS:-2}
LOGDIR=${FUZZ_SMOKE_LOGDIR:-fuzz/smoke-logs}
export RUSTC_BOOTSTRAP=1 # cargo-fuzz needs -Z flags; works on stable this way
start=$SECONDS

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
fi
if command -v python3 >/dev/null; then
    scripts/fuzz_seeds.sh >/dev/null || echo "warning: seed generation failed; empty corpora"
fi
# Safe Rust (the library forbids unsafe): panics, hangs and OOMs are what a
# smoke run looks for, so CI builds without AddressSanitizer by default,
# which roughly halves the cold build. FUZZ_SANITIZER=address restores it.
cargo fuzz build --sanitizer "${FUZZ_SANITIZER:-none}"
host=$(rustc -vV | sed -n 's/^host: //p')
bin=fuzz/target/$host/release
mkdir -p "$LOGDIR"
echo "fuzz targets built ($((SECONDS - start)) s); running each for ${SECS} s, ${JOBS} at a time"

failed=()
pids=()
names=()
finish_one() {
    local pid=$1 t=$2
    if wait "$pid"; then
        echo "  $t: ok ($(grep -E '^stat::number_of_executed_units' "$LOGDIR/$t.log" | awk '{print $2}') execs)"
    else
        echo "  $t: FINDING (log $LOGDIR/$t.log, reproducer in fuzz/artifacts/$t/)"
        grep -E 'ERROR|panicked|SUMMARY' "$LOGDIR/$t.log" | head -5 || true
        failed+=("$t")
    fi
}
for t in $(cargo fuzz list); do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    "$bin/$t" "fuzz/corpus/$t" -artifact_prefix="fuzz/artifacts/$t/" \
        -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$LOGDIR/$t.log" 2>&1 &
    pids+=($!)
    names+=("$t")
    if [ "${#pids[@]}" -ge "$JOBS" ]; then
        finish_one "${pids[0]}" "${names[0]}"
        pids=("${pids[@]:1}")
        names=("${names[@]:1}")
    fi
done
for i in "${!pids[@]}"; do
    finish_one "${pids[$i]}" "${names[$i]}"
done
echo "fuzz smoke: $((SECONDS - start)) s"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz smoke FAILED: ${failed[*]}" >&2
    exit 1
fi
