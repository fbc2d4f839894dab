#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Binary integrity, end to end with the exec backend on a private session bus: a plugin whose binary_sha256
# matches starts, one that does not is failed with the reason in LastError, a binary replaced while the
# plugin runs is refused at RestartPlugin and at the restart after a crash, and a malformed pin is refused
# with the field named.
#
# Environment (set by meson): SDLOOPD, SDLOOP_EXAMPLE_PLUGIN.
set -euo pipefail

: "${SDLOOPD:?}" "${SDLOOP_EXAMPLE_PLUGIN:?}"

for tool in dbus-daemon busctl sha256sum; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

tmp=$(mktemp -d /tmp/sdloopd-sha256-test-XXXXXX)
dbus_pid= sdloopd_pid=
passed=0

cleanup() {
        local rc=$?
        [ -n "$sdloopd_pid" ] && kill -KILL "$sdloopd_pid" 2>/dev/null || :
        for pid in $(pgrep -f -- "$tmp" 2>/dev/null || :); do kill -KILL "$pid" 2>/dev/null || :; done
        [ -n "$dbus_pid" ] && kill "$dbus_pid" 2>/dev/null || :
        if [ $rc -ne 0 ] && [ -f "$tmp/sdloopd.log" ]; then
                echo "--- sdloopd log ---"
                cat "$tmp/sdloopd.log"
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
        echo "FAIL: $*" >&2
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

bus() { busctl --user "$@"; }
prop() { bus get-property org.sdloop1 "/org/sdloop1/plugin/$1" org.sdloop1.PluginInstance "$2" | cut -d' ' -f2- | tr -d '"'; }
state_is() { [ "$(prop "$1" State)" = "$2" ]; }
manager() { bus call org.sdloop1 /org/sdloop1 org.sdloop1.Manager "$@"; }

mkdir -p "$tmp/run" "$tmp/state" "$tmp/bin"
dbus-daemon --session --nofork --print-address=3 3>"$tmp/bus-address" 2>"$tmp/dbus.log" &
dbus_pid=$!
wait_for 10 test -s "$tmp/bus-address" || fail "dbus-daemon did not start"
DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$tmp/bus-address")
export DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR=$tmp/run SDLOOP_LOG_TARGET=stderr
export HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_STATE_HOME=$tmp/xdg-state

# Two copies of the example plugin; "another" build of it is the same program with a byte more at the end,
# which runs just as well: only its hash tells it apart.
cp "$SDLOOP_EXAMPLE_PLUGIN" "$tmp/bin/pinned"
cp "$SDLOOP_EXAMPLE_PLUGIN" "$tmp/bin/wrong"
cp "$SDLOOP_EXAMPLE_PLUGIN" "$tmp/bin/replacement"
printf '\n' >>"$tmp/bin/replacement"
good=$(sha256sum "$tmp/bin/pinned" | cut -d' ' -f1)
other=$(sha256sum "$tmp/bin/replacement" | cut -d' ' -f1)
[ "$good" != "$other" ] || fail "the replacement has the same hash"

# write_config PIN_OF_WRONG: plugin "pinned" pinned to its binary (in upper case: sha256sum's digits in any
# case), plugin "wrong" pinned to PIN_OF_WRONG.
write_config() {
        cat >"$tmp/sdloopd.json" <<JSON
{
        "backend": "exec",
        "socket_directory": "$tmp/run/plugin",
        "state_directory": "$tmp/state",
        "defaults": { "restart": "always", "restart_sec": 0.1, "call_timeout_sec": 10 },
        "plugins": {
                "pinned": { "kind": "example", "binary": "$tmp/bin/pinned", "binary_sha256": "${good^^}" },
                "wrong": { "kind": "example", "binary": "$tmp/bin/wrong", "binary_sha256": $1 }
        }
}
JSON
}

# --- a malformed pin: refused at start, naming the field --------------------------------------------------------
write_config '"abc"'
if "$SDLOOPD" --user --backend=exec --config "$tmp/sdloopd.json" 2>"$tmp/bad.log"; then
        fail "sdloopd started with a malformed binary_sha256"
fi
grep -qE 'plugins\.wrong\.binary_sha256: expected the SHA-256 of the binary \(64 hex digits\), got "abc"' "$tmp/bad.log" \
        || { cat "$tmp/bad.log"; fail "the error does not name binary_sha256"; }
write_config 42
! "$SDLOOPD" --user --backend=exec --config "$tmp/sdloopd.json" 2>"$tmp/bad.log" || fail "started with a number as pin"
grep -q 'plugins\.wrong\.binary_sha256: expected the SHA-256 of the binary' "$tmp/bad.log" || { cat "$tmp/bad.log"; fail "number"; }
ok "a malformed binary_sha256 is refused at start with the field named"

# --- match starts, mismatch fails -------------------------------------------------------------------------------
write_config "\"$other\""
"$SDLOOPD" --user --backend=exec --config "$tmp/sdloopd.json" 2>"$tmp/sdloopd.log" &
sdloopd_pid=$!
wait_for 20 state_is pinned running || fail "pinned: not running (state $(prop pinned State), $(prop pinned LastError))"
ok "a binary with the pinned SHA-256 starts"

wait_for 20 state_is wrong failed || fail "wrong: state $(prop wrong State)"
[ "$(prop wrong MainPID)" = 0 ] || fail "wrong: MainPID $(prop wrong MainPID)"
prop wrong LastError | grep -qF "binary $tmp/bin/wrong does not match binary_sha256: its SHA-256 is $good, pinned $other" \
        || fail "wrong: LastError $(prop wrong LastError)"
grep -qF "Plugin wrong: binary $tmp/bin/wrong does not match binary_sha256" "$tmp/sdloopd.log" || fail "not logged"
! pgrep -f -- "$tmp/bin/wrong" >/dev/null || fail "the mismatched binary runs"
# Asking again changes nothing.
! manager StartPlugin s wrong 2>"$tmp/err" || fail "StartPlugin of the mismatched binary succeeded"
grep -q 'does not match binary_sha256' "$tmp/err" || { cat "$tmp/err"; fail "StartPlugin error"; }
state_is wrong failed || fail "wrong after StartPlugin: $(prop wrong State)"
ok "a binary with another SHA-256 is not started: failed, LastError and the StartPlugin error say why"

# --- replaced between restarts ---------------------------------------------------------------------------------
old=$(prop pinned MainPID)
mv "$tmp/bin/replacement" "$tmp/bin/pinned"
! manager RestartPlugin s pinned 2>"$tmp/err" || fail "RestartPlugin of a replaced binary succeeded"
grep -qF "its SHA-256 is $other, pinned $good" "$tmp/err" || { cat "$tmp/err"; fail "RestartPlugin error"; }
wait_for 10 state_is pinned failed || fail "pinned after RestartPlugin: $(prop pinned State)"
prop pinned LastError | grep -qF "does not match binary_sha256: its SHA-256 is $other" || fail "LastError $(prop pinned LastError)"
wait_for 10 sh -c "! kill -0 $old" || fail "the old process still runs"
! pgrep -f -- "$tmp/bin/pinned" >/dev/null || fail "a process of the replaced binary runs"
ok "a binary replaced while the plugin ran is refused at RestartPlugin: failed, the old process stopped"

# The right binary back: it starts again; replaced again, the restart after a crash is refused too.
cp "$SDLOOP_EXAMPLE_PLUGIN" "$tmp/bin/pinned.new" && mv "$tmp/bin/pinned.new" "$tmp/bin/pinned"
manager StartPlugin s pinned >/dev/null || fail "StartPlugin with the pinned binary back"
wait_for 20 state_is pinned running || fail "pinned: not running again ($(prop pinned State))"
pid=$(prop pinned MainPID)
cp "$SDLOOP_EXAMPLE_PLUGIN" "$tmp/bin/pinned.new" && printf 'x' >>"$tmp/bin/pinned.new" && mv "$tmp/bin/pinned.new" "$tmp/bin/pinned"
kill -KILL "$pid"
wait_for 20 state_is pinned failed || fail "pinned after kill -9: $(prop pinned State)"
prop pinned LastError | grep -q "does not match binary_sha256" || fail "LastError $(prop pinned LastError)"
! pgrep -f -- "$tmp/bin/pinned" >/dev/null || fail "the replaced binary was started after the crash"
ok "after kill -9, the automatic restart refuses the replaced binary: failed"

kill -TERM "$sdloopd_pid"
rc=0
wait "$sdloopd_pid" || rc=$?
sdloopd_pid=
[ $rc -eq 0 ] || fail "sdloopd exited with $rc"
ok "sdloopd stops cleanly"

echo "$passed passed, 0 failed"
