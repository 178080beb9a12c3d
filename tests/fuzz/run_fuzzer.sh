#!/usr/bin/env bash
# Runs one libFuzzer harness for FUZZ_SECONDS (default 20) from its seed
# corpus, without touching the committed seeds: new inputs go to a
# temporary corpus, a finding to ARTIFACTS/ (crash-*, leak-*, timeout-*...).
# Exits non-zero on any report (sanitizer, crash, leak, timeout, out of
# memory, broken invariant). usage: run_fuzzer.sh HARNESS SEEDS ARTIFACTS
set -euo pipefail
harness=$1 seeds=$2 artifacts=$3
seconds=${FUZZ_SECONDS:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -rf "$artifacts" && mkdir -p "$artifacts" # this run's findings only
# UBSan must stop at the first report (the build also has
# -fno-sanitize-recover=all); ASan reports leaks per input.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
# -close_fd_mask=3: the code under test's stdout/stderr (log lines, usage
# messages) are closed; libFuzzer and the sanitizers still report.
status=0
"$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -close_fd_mask=3 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" "$seeds" || status=$?
if [ $status -ne 0 ]; then
    echo "run_fuzzer: $(basename "$harness") found a problem (exit $status);" \
        "the input is in $artifacts/; reproduce with: $harness" \
        "$artifacts/<file>" >&2
    exit 1
fi
echo "run_fuzzer: $(basename "$harness"): ${seconds} s, no report"
