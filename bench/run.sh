#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# make bench: sdloop against go-plugin + gRPC (the anchor) and against the physical floor (two processes
# ping-ponging over a UNIX socketpair), measured in the same run on the same machine.
#
#   bench/run.sh [BUILD_DIR]           (default: build)
#
# Steps, each repeated BENCH_RUNS times (default 5), interleaved so that both sides see the same machine:
#   1. bench/sdloop-bench (exec backend): the host library starting and supervising bench-plugin,
#      libsdloop clients calling it through its socket — its sections include the hung plugin
#      (bench/bench-hung.c: SIGSTOP → found out by the health probes → restarted → next call answered);
#   2. the anchor, ../shared/anchors/goplugin-bench (GPBENCH_DIR): its run.sh builds it into
#      BUILD_DIR/goplugin-bench (installing its Debian packages with its install.sh when they are missing
#      and we are root) and runs it once; the later runs call its built binaries the same way. Each anchor
#      run includes the floor (its pingpong.c), whose numbers are reused from the anchor's JSON;
#   3. the systemd backend (BENCH_NSPAWN_RUNS times, default 3; sandboxed with DynamicUser= as sdloopd
#      runs plugins, sandboxed with a static user, and unsandboxed): inside a booted systemd container
#      (tests/nspawn/run.sh), cold start from StartTransientUnit and kill -9 recovery.
# Then bench/report.py takes each figure's median over the runs and writes bench/results/latest.json and
# BENCHMARKS.md at the top of the source tree. Raw per-run JSON stays in BUILD_DIR/bench-results/.
#
# Knobs: BENCH_RUNS, BENCH_NSPAWN_RUNS (0: skip), BENCH_ANCHOR=0 (skip the anchor), BENCH_ARGS (extra
# sdloop-bench options), GPBENCH_DIR. Timings are reported, never asserted.

set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$src/build}")
runs=${BENCH_RUNS:-5}
nspawn_runs=${BENCH_NSPAWN_RUNS:-3}
anchor_dir=${GPBENCH_DIR:-$src/../shared/anchors/goplugin-bench}
gp_build=$build/goplugin-bench
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=$build/bench-results/$stamp

log() { printf '\n### %s\n' "$*" >&2; }

# --- build -------------------------------------------------------------------------------------------
if [ ! -f "$build/build.ninja" ]; then
        meson setup "$build" "$src" >&2
fi
meson compile -C "$build" sdloop-bench sdloop-bench-plugin >&2
bench=$build/bench/sdloop-bench
plugin=$build/bench/sdloop-bench-plugin
mkdir -p "$raw"

machine_json() {
        python3 - <<'PY'
import json, os, platform, shutil, subprocess
cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:")), 0)
debian = open("/etc/debian_version").read().strip() if os.path.exists("/etc/debian_version") else None
virt = None
if shutil.which("systemd-detect-virt"):
    virt = subprocess.run(["systemd-detect-virt"], capture_output=True, text=True).stdout.strip() or None
print(json.dumps({"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(), "mem_total_kib": mem,
                  "debian": debian, "virtualization": virt}))
PY
}
machine_json >"$raw/machine.json"

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# --- the anchor ----------------------------------------------------------------------------------------
anchor_ok=0
anchor_note=""
if [ "${BENCH_ANCHOR:-1}" = 0 ]; then
        anchor_note="skipped (BENCH_ANCHOR=0)"
elif [ ! -x "$anchor_dir/run.sh" ]; then
        anchor_note="not found at $anchor_dir (set GPBENCH_DIR)"
else
        anchor_dir=$(cd "$anchor_dir" && pwd)
        missing=""
        for t in go protoc protoc-gen-go gcc taskset; do
                command -v "$t" >/dev/null || missing="$missing $t"
        done
        if [ -n "$missing" ]; then
                if [ "$(id -u)" = 0 ]; then
                        log "anchor: installing its Debian packages (missing:$missing)"
                        "$anchor_dir/install.sh" >&2 || true
                else
                        anchor_note="cannot build: missing$missing (run $anchor_dir/install.sh as root)"
                fi
        fi
        if [ -z "$anchor_note" ]; then
                mkdir -p "$gp_build"
                anchor_ok=1
        fi
fi

# One anchor run: the first through its own run.sh (which builds everything), the later ones through the
# binaries it built, with the same arguments (baseline first, then the host benchmark).
anchor_run() {
        local k=$1 out=$raw/anchor-$k.json
        if [ "$k" = 1 ]; then
                if ! GPBENCH_BUILD="$gp_build" "$anchor_dir/run.sh" >"$out" 2>"$raw/anchor-$k.log"; then
                        tail -n 20 "$raw/anchor-$k.log" >&2
                        anchor_note="its run.sh failed (see $raw/anchor-$k.log)"
                        anchor_ok=0
                        rm -f "$out"
                        return 0
                fi
        else
                local b=$gp_build/bin
                { printf '{"unpinned": '; "$b/pingpong"; printf ', "pinned_same_cpu": '; taskset -c 0 "$b/pingpong"
                  printf '}\n'; } >"$gp_build/baseline.json"
                # shellcheck disable=SC2086
                if ! "$b/gpbench-host" -plugin "$b/gpbench-plugin" -baseline "$gp_build/baseline.json" \
                                -meta "$gp_build/meta.json" ${GPBENCH_ARGS:-} >"$out" 2>"$raw/anchor-$k.log"; then
                        tail -n 20 "$raw/anchor-$k.log" >&2
                        rm -f "$out"
                        return 0
                fi
        fi
        grep -E '^(rpc|start|recovery|throughput|concurrency|RSS)' "$raw/anchor-$k.log" >&2 || true
}

# --- interleaved runs ----------------------------------------------------------------------------------
for k in $(seq 1 "$runs"); do
        load_before=$(loadavg)
        log "run $k/$runs: sdloop (exec backend), load $load_before"
        # shellcheck disable=SC2086
        "$bench" --plugin "$plugin" ${BENCH_ARGS:-} >"$raw/sdloop-$k.json"
        if [ $anchor_ok = 1 ]; then
                log "run $k/$runs: go-plugin anchor + socketpair floor, load $(loadavg)"
                anchor_run "$k"
        fi
        echo "{\"run\": $k, \"load_before\": \"$load_before\", \"load_after\": \"$(loadavg)\"}" >"$raw/load-$k.json"
done

# --- the systemd backend, in a booted container ---------------------------------------------------------
nspawn_note=""
if [ "$nspawn_runs" = 0 ]; then
        nspawn_note="skipped (BENCH_NSPAWN_RUNS=0)"
elif [ ! -f "$src/src/host/backend-systemd.c" ] || [ ! -x "$src/tests/nspawn/run.sh" ]; then
        nspawn_note="no systemd backend or container harness in this tree"
elif [ "$(id -u)" != 0 ]; then
        nspawn_note="booting a systemd container needs root"
elif ! command -v systemd-nspawn >/dev/null; then
        nspawn_note="systemd-nspawn missing (Debian package systemd-container)"
else
        # sdloopd's default (the hardening and DynamicUser=), the hardening alone, and neither.
        declare -A configs=([sandbox]="--sandbox yes --dynamic-user yes"
                            [sandbox-static-user]="--sandbox yes --dynamic-user no"
                            [no-sandbox]="--sandbox no --dynamic-user no")
        for k in $(seq 1 "$nspawn_runs"); do
                for config in sandbox sandbox-static-user no-sandbox; do
                        log "systemd backend $k/$nspawn_runs ($config), in a container, load $(loadavg)"
                        out=$raw/nspawn-$config-$k
                        # shellcheck disable=SC2086
                        if "$src/tests/nspawn/run.sh" "$build" "$src" "$src/bench/nspawn-bench.sh" "$bench" "$plugin" \
                                        ${configs[$config]} >"$out.log" 2>"$out.console"; then
                                sed -n '/^BENCH-JSON-BEGIN$/,/^BENCH-JSON-END$/p' "$out.log" | sed '1d;$d' >"$out.json"
                                grep -E '^\s+\.\. ' "$out.log" >&2 || true
                        else
                                tail -n 30 "$out.log" >&2 || true
                                nspawn_note="the container run failed (see $out.log)"
                        fi
                done
        done
fi

# --- what call metrics cost (bench/metrics-cost-report.py); its own section of BENCHMARKS.md ---------------
for k in 1 2 3; do
        for m in off on; do
                log "call metrics $m, run $k"
                if [ $m = off ]; then flag=false; else flag=true; fi
                SDLOOP_METRICS=$flag "$bench" --plugin "$plugin" --only rpc,throughput >"$raw/metrics-$m-$k.json" \
                        2>"$raw/metrics-$m-$k.log" || { tail -n 20 "$raw/metrics-$m-$k.log" >&2; rm -f "$raw/metrics-$m-$k.json"; }
        done
done
python3 "$src/bench/metrics-cost-report.py" --markdown "$src/BENCHMARKS.md" "$raw"/metrics-*.json

# --- report ----------------------------------------------------------------------------------------------
log "report"
python3 "$src/bench/report.py" --raw "$raw" --anchor-note "$anchor_note" --nspawn-note "$nspawn_note" \
        --json "$src/bench/results/latest.json" --markdown "$src/BENCHMARKS.md"
echo "raw results: $raw" >&2

# --- two plugins killed at once (bench/bench-two-kill.c), both backends; its own section of BENCHMARKS.md ---
log "two-plugin kill: exec backend"
meson compile -C "$build" sdloop-bench-two-kill sdloop-test-plugin >&2
two_kill=$build/bench/sdloop-bench-two-kill
test_plugin=$build/tests/conformance/sdloop-test-plugin
for k in $(seq 1 "$runs"); do
        "$two_kill" --plugin "$test_plugin" --trials 10 >"$raw/two-kill-exec-$k.json" 2>"$raw/two-kill-exec-$k.log" ||
                tail -n 20 "$raw/two-kill-exec-$k.log" >&2
        grep -E '^\s+\.\. ' "$raw/two-kill-exec-$k.log" >&2 || true
done
if [ "$nspawn_runs" != 0 ] && [ "$(id -u)" = 0 ] && command -v systemd-nspawn >/dev/null; then
        for k in $(seq 1 "$nspawn_runs"); do
                log "two-plugin kill: systemd backend $k/$nspawn_runs, in a container"
                out=$raw/two-kill-system-$k
                if "$src/tests/nspawn/run.sh" "$build" "$src" "$src/bench/nspawn-two-kill.sh" "$two_kill" \
                                "$test_plugin" --trials 10 >"$out.log" 2>"$out.console"; then
                        sed -n '/^BENCH-JSON-BEGIN$/,/^BENCH-JSON-END$/p' "$out.log" | sed '1d;$d' >"$out.json"
                        grep -E '^\s+\.\. ' "$out.log" >&2 || true
                else
                        tail -n 30 "$out.log" >&2 || true
                fi
        done
fi
python3 "$src/bench/two-kill-report.py" --markdown "$src/BENCHMARKS.md" "$raw"/two-kill-*.json

# --- the median plugin by language (bench/bench-median-language.py); its own section of BENCHMARKS.md ------
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import dbus, gi' 2>/dev/null; then
        meson compile -C "$build" plugins/median/sdloop-median:executable sdloop-python-contract >&2
        for k in $(seq 1 "$runs"); do
                log "median plugin by language $k/$runs, load $(loadavg)"
                /usr/bin/python3 "$src/bench/bench-median-language.py" "c=$build/plugins/median/sdloop-median" \
                        "python=$build/plugins/median-python/sdloop-median-python" >"$raw/median-language-$k.json" ||
                        rm -f "$raw/median-language-$k.json"
        done
        python3 "$src/bench/median-language-report.py" --markdown "$src/BENCHMARKS.md" \
                --latest "$src/bench/results/latest.json" "$raw"/median-language-*.json
else
        echo "median plugin by language: skipped (python3-dbus or python3-gi missing)" >&2
fi
