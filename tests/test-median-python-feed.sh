#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Python median plugin in place of the C one: sdloopd (exec backend, private session bus) runs one feed
# (the ledger relayer, four oracles on a deterministic random walk, every round reported) first on the C
# median plugin, then on the Python one; the first reports on each ledger are the same rounds with the same
# answers. With the Python plugin a kill -9 of it is recovered and the feed goes on.
#   usage: test-median-python-feed.sh SDLOOPD SDLOOPCTL RELAYER-LEDGER C-MEDIAN PYTHON-MEDIAN
set -euo pipefail

sdloopd=$1 sdloopctl=$2 ledger_bin=$3 c_median=$4 py_median=$5
REPORTS=6
for tool in dbus-daemon sqlite3; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

tmp=$(mktemp -d /tmp/sdloop-median-python-XXXXXX)
dbus_pid= sdloopd_pid=
cleanup() {
        local rc=$?
        [ -n "$sdloopd_pid" ] && kill -TERM "$sdloopd_pid" 2>/dev/null && wait "$sdloopd_pid" 2>/dev/null || :
        [ -n "$dbus_pid" ] && kill "$dbus_pid" 2>/dev/null || :
        if [ $rc -ne 0 ]; then
                for f in "$tmp"/*/sdloopd.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }; done
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
wait_for() {
        local deadline=$(( $(date +%s) + $1 ))
        shift
        until "$@" >/dev/null 2>&1; do
                [ "$(date +%s)" -lt "$deadline" ] || return 1
                sleep 0.1
        done
}

dbus-daemon --session --nofork --print-address=3 3>"$tmp/bus-address" 2>"$tmp/dbus.log" &
dbus_pid=$!
wait_for 10 test -s "$tmp/bus-address" || fail "dbus-daemon did not start"
export DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$tmp/bus-address")
export SDLOOP_LOG_TARGET=stderr HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_STATE_HOME=$tmp/xdg-state

transmissions() { sqlite3 -readonly "$1" 'SELECT count(*) FROM transmissions'; }
at_least() { [ "$(transmissions "$1")" -ge "$2" ]; }

# run NAME MEDIAN-BINARY [kill]: a fresh sdloopd with the feed until REPORTS reports are on its ledger.
run() {
        local name=$1 median=$2 dir=$tmp/$1
        mkdir -p "$dir/run" "$dir/state"
        export XDG_RUNTIME_DIR=$dir/run
        cat >"$dir/sdloopd.json" <<JSON
{
        "backend": "exec",
        "socket_directory": "$dir/run/plugin",
        "state_directory": "$dir/state",
        "defaults": { "restart": "always", "restart_sec": 0.1, "call_timeout_sec": 10, "sandbox": false },
        "plugins": {
                "ledger": { "kind": "relayer", "binary": "$ledger_bin",
                            "relayer": { "config": { "chain_id": "c", "ledger": "$dir/ledger.sqlite" } } },
                "median": { "kind": "median", "binary": "$median" }
        },
        "feeds": {
                "feed": {
                        "relayer": "ledger", "median": "median", "n": 4, "f": 1,
                        "onchain_config": { "min": "0", "max": "1000000000000000" },
                        "offchain_config": { "alpha_report_ppb": 0, "alpha_accept_ppb": 0, "delta_c_sec": 0 },
                        "round_interval_sec": 0.2,
                        "value": { "type": "random_walk", "start": "200000000000", "step_ppm": 2000, "seed": 1 },
                        "juels_per_fee_coin": { "type": "constant", "value": "1000000000000000000" }
                }
        }
}
JSON
        "$sdloopd" --user --backend=exec --config "$dir/sdloopd.json" 2>"$dir/sdloopd.log" &
        sdloopd_pid=$!
        wait_for 60 at_least "$dir/ledger.sqlite" "$REPORTS" || fail "$name: fewer than $REPORTS reports in 60 s"
        if [ "${3:-}" = kill ]; then
                local pid before
                pid=$("$sdloopctl" --user status median | sed -n 's/^ *Main PID: *\([0-9]*\).*/\1/p' | head -n1)
                [ -n "$pid" ] || pid=$(pgrep -P "$sdloopd_pid" -f sdloop-median-python | head -n1)
                [ -n "$pid" ] || fail "$name: no median plugin process"
                before=$(transmissions "$dir/ledger.sqlite")
                kill -KILL "$pid"
                wait_for 60 at_least "$dir/ledger.sqlite" $((before + 3)) ||
                        fail "$name: the feed did not go on after kill -9 of the median plugin"
                grep -q 'Plugin median: recovered in [0-9]* µs' "$dir/sdloopd.log" || fail "$name: no recovery logged"
                echo "ok - $name: kill -9 of the median plugin (pid $pid) recovered, $before → $(transmissions "$dir/ledger.sqlite") reports"
        fi
        kill -TERM "$sdloopd_pid"
        wait "$sdloopd_pid" || fail "$name: sdloopd did not exit cleanly"
        sdloopd_pid=
        sqlite3 -readonly "$dir/ledger.sqlite" \
                "SELECT epoch, round, answer FROM transmissions ORDER BY epoch, round LIMIT $REPORTS" >"$tmp/$name.rows"
        echo "ok - $name: $REPORTS reports on the ledger"
}

run c "$c_median"
run python "$py_median" kill
diff -u "$tmp/c.rows" "$tmp/python.rows" || fail "the Python plugin's reports differ from the C plugin's"
grep -q 'median-python' "$tmp/python/sdloopd.log" || fail "the Python plugin did not run"
echo "ok - the first $REPORTS reports are the same rounds with the same answers:"
sed 's/^/#   /' "$tmp/c.rows"
