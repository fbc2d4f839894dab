#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Inside a booted systemd container (tests/nspawn/run.sh), as root: the systemd-backend figures of
# `make bench` — plugin cold start from StartTransientUnit to the first answered call, and kill -9
# recovery through systemd's Restart= and the host's transparent recovery.
#
#   nspawn-bench.sh SDLOOP_BENCH BENCH_PLUGIN [SDLOOP_BENCH_ARGS...]
#
# Progress first, then the JSON document between BENCH-JSON-BEGIN and BENCH-JSON-END lines (run.sh
# prints our output on its stdout).

set -u

bench=$1
plugin=$2
shift 2

echo "$(systemctl --version | head -n 1); system: $(systemctl is-system-running 2>/dev/null || true)"

out=$(mktemp)
err=$(mktemp)
status=0
SDLOOP_LOG_TARGET=stderr "$bench" --backend system --plugin "$plugin" --only start,recovery "$@" >"$out" 2>"$err" ||
        status=$?
cat "$err"
if [ $status -eq 0 ]; then
        echo "BENCH-JSON-BEGIN"
        cat "$out"
        echo "BENCH-JSON-END"
else
        echo "=== sdloop-* units ==="
        systemctl list-units --all --no-pager 'sdloop-*' || true
        echo "=== journal of sdloop-* units ==="
        journalctl --no-pager -o short-monotonic -n 100 -u 'sdloop-*' || true
fi
rm -f "$out" "$err"
exit $status
