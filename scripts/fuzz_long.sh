#!/bin/sh
# Long fuzz runs: each target in $TARGETS for $SECS seconds, $PAR at a time,
# niced, using the already-built binaries (run `cargo fuzz build` first).
# Extra libFuzzer flags in $EXTRA (e.g. -max_len=65536).
# Logs go to $LOGDIR/<target>.log; a summary line per target to stdout.
set -u
cd "$(dirname "$0")/.."
SECS=${SECS:-600}
PAR=${PAR:-2}
LOGDIR=${LOGDIR:-/tmp/fuzz-long}
BIN=fuzz/target/x86_64-unknown-linux-gnu/release
TARGETS=${TARGETS:-"spf_check_host authenticator dkim_verify spf_record spf_macro dkim_signature dkim_key dkim_canon dmarc_record author_domain zonefile authres_render"}
mkdir -p "$LOGDIR"
run() {
    t=$1
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    start=$(date +%s)
    nice -n 10 "$BIN/$t" "fuzz/corpus/$t" -artifact_prefix="fuzz/artifacts/$t/" \
        -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 ${EXTRA:-} \
        >"$LOGDIR/$t.log" 2>&1
    rc=$?
    end=$(date +%s)
    execs=$(grep -E '^stat::number_of_executed_units' "$LOGDIR/$t.log" | awk '{print $2}')
    echo "$t rc=$rc secs=$((end - start)) execs=${execs:-?} corpus=$(ls "fuzz/corpus/$t" | wc -l) artifacts=$(ls "fuzz/artifacts/$t" | wc -l) start=$(date -u -d @"$start" +%H:%M:%S)"
}
set -- $TARGETS
while [ $# -gt 0 ]; do
    a=$1; shift
    if [ $# -gt 0 ] && [ "$PAR" -ge 2 ]; then
        b=$1; shift
        run "$a" & run "$b" & wait
    else
        run "$a"
    fi
done
