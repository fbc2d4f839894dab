#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run each libFuzzer target for FUZZ_TIME seconds (default 300), one after the other, each on its seed
# corpus (fuzz/corpus/<target>/) and its past crashes (fuzz/regressions/<target>/).
#
#   tools/fuzz.sh [TARGET...]        all targets when none is given
#
# The clang build lives in $FUZZ_BUILD (default build-fuzz; configured here with -Dfuzz=true and
# ASan/UBSan). What the fuzzer finds goes under it and is left out of the tree: new corpus inputs in
# fuzz-corpus/<target>/, crashes in fuzz-crashes/<target>/ (printed at the end; a crash worth keeping is
# fixed and copied into fuzz/regressions/<target>/), each run's output in fuzz-logs/<target>.log.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD:-$src/build-fuzz}
time=${FUZZ_TIME:-300}

if [ $# -gt 0 ]; then
        targets="$*"
else
        targets=$(cd "$src/fuzz/corpus" && ls)
fi

if [ ! -f "$build/build.ninja" ]; then
        CC=${FUZZ_CC:-clang} meson setup "$build" "$src" -Dfuzz=true -Dtests=false -Dwerror=false \
                -Db_sanitize=address,undefined -Db_lundef=false
fi
# Regenerate first: a target added since the last run is not known to meson compile otherwise.
ninja -C "$build" build.ninja >/dev/null
for t in $targets; do
        meson compile -C "$build" "fuzz/fuzz-$t"
done

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

failed=""
for t in $targets; do
        work="$build/fuzz-corpus/$t" crashes="$build/fuzz-crashes/$t" log="$build/fuzz-logs/$t.log"
        mkdir -p "$work" "$crashes" "$build/fuzz-logs" "$src/fuzz/regressions/$t"
        echo "=== fuzz-$t: $time s"
        # New inputs go to the first directory: the build's, never the committed corpus.
        if ! "$build/fuzz/fuzz-$t" -max_total_time="$time" -print_final_stats=1 -timeout=10 \
                -artifact_prefix="$crashes/" "$work" "$src/fuzz/corpus/$t" "$src/fuzz/regressions/$t" \
                >"$log" 2>&1; then
                failed="$failed $t"
        fi
        grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
        tail -n 3 "$log" | grep -v '^stat::' || true
done

found=0
for t in $targets; do
        for f in "$build/fuzz-crashes/$t"/*; do
                [ -e "$f" ] || continue
                echo "crash: $f"
                found=1
        done
done
if [ -n "$failed" ] || [ $found = 1 ]; then
        echo "fuzz: failed:$failed (see $build/fuzz-logs/)"
        exit 1
fi
echo "fuzz: no crash in:" $targets
