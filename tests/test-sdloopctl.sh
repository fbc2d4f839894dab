#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sdloopctl against fake-sdloopd (org.sdloop1 with fixed answers, checked against dbus/*.xml) on a private
# session bus: every verb's text and JSON output, the exit statuses scripts rely on, colors, ellipsizing,
# the bash completion, and the errors when the daemon is gone.
#
# Environment (set by meson): SDLOOPCTL, FAKE_SDLOOPD, SDLOOP_CHECK_INTROSPECTION, SDLOOP_DBUS_DIR,
# SDLOOP_BASH_COMPLETION.
set -euo pipefail

: "${SDLOOPCTL:?}" "${FAKE_SDLOOPD:?}" "${SDLOOP_CHECK_INTROSPECTION:?}" "${SDLOOP_DBUS_DIR:?}"
: "${SDLOOP_BASH_COMPLETION:?}"

for tool in dbus-daemon busctl python3; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

tmp=$(mktemp -d /tmp/sdloopctl-test-XXXXXX)
dbus_pid='' fake_pid=''
passed=0

cleanup() {
        if [ -n "$fake_pid" ]; then kill "$fake_pid" 2>/dev/null || :; fi
        if [ -n "$dbus_pid" ]; then kill "$dbus_pid" 2>/dev/null || :; fi
        rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
        echo "FAIL: $*" >&2
        for f in out err; do
                [ -s "$tmp/$f" ] && { echo "--- $f ---"; cat "$tmp/$f"; } >&2
        done
        exit 1
}

ok() {
        passed=$((passed + 1))
        echo "ok $passed - $*"
}

wait_for() {
        local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
        shift
        until "$@" >/dev/null 2>&1; do
                [ "$(date +%s%N)" -lt "$deadline" ] || return 1
                sleep 0.05
        done
}

# ctl EXPECTED-STATUS ARGS...: run sdloopctl --user ARGS, stdout to $tmp/out, stderr to $tmp/err.
ctl() {
        local want=$1 rc=0
        shift
        "$SDLOOPCTL" --user "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
        [ "$rc" -eq "$want" ] || fail "sdloopctl $* exited with $rc, expected $want"
}

has() { grep -qE -- "$1" "$tmp/out" || fail "output lacks /$1/"; }
has_err() { grep -qE -- "$1" "$tmp/err" || fail "stderr lacks /$1/"; }
# json EXPR...: python expressions over the JSON output (bound to j); each must be true. One python per
# output: its start-up is the slowest part of this test.
json() {
        python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
for e in sys.argv[2:]:
    if not eval(e):
        sys.exit("JSON check failed: " + e)' "$tmp/out" "$@" || fail "JSON checks"
}

# Deterministic output: UTF-8 glyphs, UTC timestamps, no colors unless asked for.
export LC_ALL=C.UTF-8 TZ=UTC
unset NO_COLOR SDLOOP_COLORS

# --- a private bus and the fake daemon ---------------------------------------------------------------------
dbus-daemon --session --nofork --print-address=3 3>"$tmp/bus-address" 2>"$tmp/dbus.log" &
dbus_pid=$!
wait_for 10 test -s "$tmp/bus-address" || fail "dbus-daemon did not start"
DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$tmp/bus-address")
export DBUS_SESSION_BUS_ADDRESS

"$FAKE_SDLOOPD" >"$tmp/fake.out" 2>"$tmp/fake.log" &
fake_pid=$!
wait_for 10 grep -q READY "$tmp/fake.out" || fail "fake-sdloopd did not start: $(cat "$tmp/fake.log")"

# The fake serves exactly the contract the real daemon serves.
introspect() {
        busctl --user --xml-interface introspect org.sdloop1 "$1" >"$2"
}
introspect /org/sdloop1 "$tmp/manager.xml"
introspect /org/sdloop1/plugin/ledger "$tmp/instance.xml"
introspect /org/sdloop1/plugin/ledger/relayer/1 "$tmp/service.xml"
python3 "$SDLOOP_CHECK_INTROSPECTION" --dbus-dir "$SDLOOP_DBUS_DIR" --object "$tmp/manager.xml" Manager \
        --object "$tmp/instance.xml" PluginInstance --object "$tmp/service.xml" Service \
        || fail "fake-sdloopd does not follow dbus/*.xml"
ok "fake-sdloopd follows the contract"

# --- list --------------------------------------------------------------------------------------------------
ctl 0 list
head -n1 "$tmp/out" | grep -qE '^NAME +KIND +UNIT +STATE +RESTARTS +PID +MEMORY +LAST ERROR$' || fail "list header"
has "^ledger +relayer +sdloop-ledger\.service +running +2 +$fake_pid +[0-9.]+[KMG] +-$"
has "^median-eth +median +sdloop-median-eth\.service +failed +5 +- +- +start limit hit: exited 5 times within 10s$"
has '^2 plugins listed\.$'
[ "$(wc -l <"$tmp/out")" -eq 5 ] || fail "list: expected header, 2 rows, blank line, legend"
ok "list: table with header and legend, memory from /proc for the exec-style unit"

ctl 0 list --no-legend
[ "$(awk '{print $1}' "$tmp/out" | tr '\n' ' ')" = "ledger median-eth " ] || fail "list --no-legend"
ctl 0 -q list
[ "$(wc -l <"$tmp/out")" -eq 2 ] || fail "list -q keeps only the rows"
ctl 0
has '^2 plugins listed\.$'
ok "list --no-legend and -q print the rows only; list is the default command"

ctl 0 list --json
json 'isinstance(j, list) and [p["name"] for p in j] == ["ledger", "median-eth"]' \
        'j[0]["kind"] == "relayer" and j[0]["state"] == "running" and j[0]["n_restarts"] == 2' \
        "j[0]['main_pid'] == $fake_pid and j[0]['memory_current'] > 0" \
        'j[0]["object_path"] == "/org/sdloop1/plugin/ledger"' \
        'j[1]["state"] == "failed" and j[1]["main_pid"] == 0 and j[1]["memory_current"] is None' \
        'j[1]["object_path"] == "/org/sdloop1/plugin/median_2deth" and j[1]["last_error"].startswith("start limit hit")'
[ "$(wc -l <"$tmp/out")" -gt 2 ] || fail "--json is pretty"
ctl 0 list --json=short
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "--json=short is one line"
json 'len(j) == 2'
ok "list --json (pretty) and --json=short"

# Colors only when asked for or on a terminal; the last column ellipsized to the terminal's width.
ctl 0 list
! grep -q $'\e' "$tmp/out" || fail "colors in piped output"
SDLOOP_COLORS=1 "$SDLOOPCTL" --user list >"$tmp/out"
grep -q $'\e\\[0;1;31mstart limit hit' "$tmp/out" || fail "SDLOOP_COLORS=1 gives no colors"
if command -v script >/dev/null && command -v stty >/dev/null; then
        script -qec "stty cols 100; NO_COLOR=1 '$SDLOOPCTL' --user list" /dev/null | tr -d '\r' >"$tmp/out"
        has '^median-eth .* start limit hit: [^…]*…$'
        python3 -c 'import sys; sys.exit(any(len(l.rstrip("\n")) > 100 for l in open(sys.argv[1], encoding="utf-8")))' \
                "$tmp/out" || fail "a line is wider than the terminal"
        script -qec "stty cols 100; NO_COLOR=1 '$SDLOOPCTL' --user --full list" /dev/null | tr -d '\r' >"$tmp/out"
        has 'within 10s$'
        ok "no colors when piped; SDLOOP_COLORS=1; ellipsized on a narrow terminal unless --full"
else
        ok "no colors when piped; SDLOOP_COLORS=1 (no script(1): terminal width not tested)"
fi

# --- status ------------------------------------------------------------------------------------------------
ctl 0 status ledger
cat >"$tmp/expected" <<EOF
● ledger - relayer plugin
       Unit: sdloop-ledger.service
      State: running
   Restarts: 2
   Main PID: $fake_pid (fake-sdloopd)
     Memory: MEMORY
    Address: /run/sdloop/plugin/ledger.sock
 Last error: -
EOF
# Memory changes as the fake runs; the journal of a fake plugin has nothing (or cannot be opened).
head -n8 "$tmp/out" | sed -E 's/^(     Memory: )[0-9.]+[BKMG]$/\1MEMORY/' | diff -u "$tmp/expected" - \
        || fail "status ledger"
[ "$(wc -l <"$tmp/out")" -eq 8 ] || fail "status ledger: journal lines of a plugin that never logged"
ok "status NAME: ● line, fields, exit 0 for a running plugin"

ctl 3 status median-eth
has '^● median-eth - median plugin$'
has '^      State: failed$'
has '^   Main PID: -$'
has '^ Last error: start limit hit: exited 5 times within 10s$'
ok "status of a failed plugin exits 3"

ctl 4 status nope
[ ! -s "$tmp/out" ] || fail "status nope printed on stdout"
[ "$(cat "$tmp/err")" = "Plugin nope could not be found." ] || fail "status nope: stderr"
ctl 4 status ledger nope
has '^● ledger'
ok "status of an unknown plugin exits 4, one line on stderr"

ctl 3 status
[ "$(grep -c '^●' "$tmp/out")" -eq 2 ] || fail "status without names shows every plugin"
ctl 0 -q status ledger
[ ! -s "$tmp/out" ] || fail "-q status printed something"
ctl 3 -q status median-eth
[ ! -s "$tmp/out" ] || fail "-q status printed something"
ok "status without names shows all; -q status only sets the exit status"

ctl 0 status --json ledger
json 'isinstance(j, dict) and j["name"] == "ledger" and j["address"] == "/run/sdloop/plugin/ledger.sock"' \
        "j['main_pid'] == $fake_pid and j['unit'] == 'sdloop-ledger.service' and j['last_error'] == ''"
ctl 3 status --json=short
json 'isinstance(j, list) and len(j) == 2 and j[1]["state"] == "failed"'
ok "status --json: an object for one name, an array otherwise"

ctl 0 status -n 0 ledger
ctl 2 status -n lots ledger
has_err 'Invalid number of lines: lots'
ok "status --lines"

# --- health ------------------------------------------------------------------------------------------------
ctl 0 health ledger
head -n1 "$tmp/out" | grep -qE '^PLUGIN +SERVICE +STATUS$' || fail "health header"
has '^ledger +- +ok$'
has '^ledger +ledger\.Relayer +ok$'
has '^ledger +ledger\.Provider +ok$'
has '^ledger +ledger\.Provider\.ContractTransmitter +ok$'
has '^All 4 healthy\.$'
ok "health NAME walks the re-exported objects, exit 0 when healthy"

ctl 1 health
has '^median-eth +- +failed: start limit hit'
has '^1 of 5 unhealthy\.$'
ctl 1 -q health
[ ! -s "$tmp/out" ] || fail "-q health printed something"
ctl 1 health --json
json 'j["healthy"] is False and [p["name"] for p in j["plugins"]] == ["ledger", "median-eth"]' \
        'j["plugins"][0]["healthy"] and j["plugins"][0]["services"] == {"ledger.Relayer": "", "ledger.Provider": "",
                                                                         "ledger.Provider.ContractTransmitter": ""}' \
        'not j["plugins"][1]["healthy"] and j["plugins"][1]["status"].startswith("failed: start limit hit")'
ok "health exits 1 when a plugin is not running; --json; -q"

ctl 4 health nope
has_err '^Plugin nope could not be found\.$'
ok "health of an unknown plugin exits 4"

# --- feeds -------------------------------------------------------------------------------------------------
ctl 0 feeds
head -n1 "$tmp/out" | grep -qE '^FEED +STATE +ANSWER +EPOCH +ROUND +UPDATED +REPORTS +STARTED +SKIPPED +FAILED +LAST REASON$' \
        || fail "feeds header"
has '^btc-usd +stopped +-1042 +0 +0 +- +0 +0 +0 +0 +-$'
has '^eth-usd +running +3345\.12345678 +3 +7 +Wed 2024-11-27 21:45:01 UTC +42 +50 +6 +3 +plugin_unavailable$'
has '^2 feeds listed\.$'
ctl 0 feeds --json
json '[f["name"] for f in j] == ["btc-usd", "eth-usd"]' \
        'j[0]["latest_answer"] == "-1042" and j[1]["latest_answer"] == "334512345678"' \
        'j[1]["epoch"] == 3 and j[1]["round"] == 7 and j[1]["reports_transmitted"] == 42' \
        'j[1]["latest_timestamp_usec"] == 1732743901000000 and j[1]["state"] == "running"' \
        'j[1]["latest_answer_decimal"] == "3345.12345678" and j[1]["rounds_started"] == 50' \
        'j[1]["rounds_failed"]["timeout"] == 1 and j[1]["rounds_skipped"]["busy"] == 2' \
        'j[1]["last_reason"] == "plugin_unavailable" and j[0]["last_reason"] is None'
ok "feeds: table and --json (answers stay decimal strings, counters by reason)"

# --- start, stop, restart, reload --------------------------------------------------------------------------
ctl 4 start nope
[ ! -s "$tmp/out" ] || fail "start nope printed on stdout"
[ "$(cat "$tmp/err")" = "Failed to start plugin nope: org.sdloop1.Error.NotFound: no plugin named nope" ] \
        || fail "start nope: stderr"
ctl 4 stop nope
ctl 4 restart nope
has_err '^Failed to restart plugin nope: org\.sdloop1\.Error\.NotFound: no plugin named nope$'
ok "start/stop/restart of an unknown plugin: the D-Bus error on one line, exit 4"

ctl 0 stop ledger
if [ -s "$tmp/out" ] || [ -s "$tmp/err" ]; then fail "stop printed something"; fi
ctl 3 status ledger
has '^      State: stopped$'
has '^   Main PID: -$'
ctl 1 health ledger
has '^ledger +- +stopped$'
ctl 0 start ledger
ctl 0 status ledger
ok "stop makes status exit 3 and health 1; start brings it back"

ctl 0 restart ledger --json
json 'len(j) == 1 and j[0]["name"] == "ledger" and j[0]["result"] == "done" and j[0]["n_restarts"] == 3'
ctl 4 start --json=short median-eth nope
json '[p["result"] for p in j] == ["done", "failed"] and j[0]["state"] == "running"' \
        'j[1]["error"] == "org.sdloop1.Error.NotFound" and j[1]["message"] == "no plugin named nope"'
ok "restart/start --json print the outcome and the resulting state"

ctl 1 health median-eth
has '^median-eth +- +ok$'
has '^median-eth +median-eth\.ReportingPluginFactory +data source stale: no observation for 120s$'
ctl 1 health median-eth --json
json 'j["plugins"][0]["services"]["median-eth.ReportingPluginFactory"].startswith("data source stale")'
ctl 0 status median-eth
ok "an unhealthy report of a running plugin makes health exit 1"

ctl 0 reload
[ ! -s "$tmp/out" ] || fail "reload printed something"
ctl 0 reload --json
json 'len(j) == 2 and all(p["state"] == "running" for p in j)'
ok "reload; reload --json lists the plugins"

# --- usage -------------------------------------------------------------------------------------------------
ctl 2 frobnicate
has_err "^Unknown command verb 'frobnicate'"
ctl 2 --frobnicate
has_err '^Unknown option --frobnicate\.$'
ctl 2 start
has_err "^Too few arguments for 'start'\.$"
ctl 2 list extra
ctl 2 feeds extra
ctl 2 --json=yaml list
has_err 'Unknown --json= mode "yaml"'
ctl 2 -H somewhere list
has_err 'cannot be combined'
ctl 0 --help
has '^Exit status:$'
has '^  4  no such plugin$'
ctl 0 --version
has '^sdloopctl [0-9]'
ok "usage errors exit 2; --help documents the exit statuses"

# --- bash completion ---------------------------------------------------------------------------------------
complete_words() {
        PATH="$(dirname "$SDLOOPCTL"):$PATH" bash -c '
                source "$1"; shift
                COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
                _sdloopctl
                printf "%s\n" "${COMPREPLY[@]}"' - "$SDLOOP_BASH_COMPLETION" "$@" | sort | tr '\n' ' '
}
[ "$(complete_words sdloopctl st)" = "start status stop " ] || fail "completion of verbs: $(complete_words sdloopctl st)"
[ "$(complete_words sdloopctl --user status '')" = "ledger median-eth " ] \
        || fail "completion of plugin names: $(complete_words sdloopctl --user status '')"
[ "$(complete_words sdloopctl --no-le)" = "--no-legend " ] || fail "completion of options"
[ "$(complete_words sdloopctl --json=s)" = "short " ] || fail "completion of --json="
ok "bash completion: verbs, options, plugin names from sdloopctl list"

# --- the daemon is gone ------------------------------------------------------------------------------------
kill "$fake_pid"
wait "$fake_pid" 2>/dev/null || :
fake_pid=
ctl 1 list
has_err '^Failed to list plugins: org\.freedesktop\.DBus\.Error\.(ServiceUnknown|NameHasNoOwner): '
ctl 1 status ledger
has_err '^Failed to get the status of plugin ledger: org\.freedesktop\.DBus\.Error\.'
ok "without sdloopd: one line naming the D-Bus error, exit 1"

echo "all $passed passed"
