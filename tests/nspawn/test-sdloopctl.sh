#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Inside the booted container (tests/nspawn/run.sh), as root: what sdloopctl takes from systemd itself,
# which a machine without systemd cannot show. fake-sdloopd serves org.sdloop1 on the system bus (sdloopctl's
# default), and its plugin "ledger" names the unit sdloop-ledger.service, which runs here as a transient
# unit stamping SDLOOP_PLUGIN=ledger on its log as sdloopd's units do:
#   - Memory: is the unit's MemoryCurrent, asked of systemd over the same bus;
#   - status shows the plugin's last journal lines (10 by default, --lines=N), and only the plugin's.
#
#   test-sdloopctl.sh SDLOOPCTL FAKE_SDLOOPD DBUS_POLICY

set -u

sdloopctl=$1 fake=$2 policy=$3
out=/tmp/sdloopctl.out
passed=0
export LC_ALL=C.UTF-8

fail() {
        echo "FAIL: $*"
        [ -f "$out" ] && { echo "=== last output ==="; cat "$out"; }
        echo "=== journal ==="
        journalctl --no-pager -o short-monotonic -n 60 || :
        exit 1
}

ok() {
        passed=$((passed + 1))
        echo "ok $passed - $*"
}

wait_for() {
        n=$(( $1 * 20 ))
        shift
        while ! "$@" >/dev/null 2>&1; do
                n=$((n - 1))
                [ $n -gt 0 ] || return 1
                sleep 0.05
        done
}

# The package's bus policy lets root own org.sdloop1.
mkdir -p /etc/dbus-1/system.d
cp "$policy" /etc/dbus-1/system.d/org.sdloop1.conf
busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig || fail "ReloadConfig"

# The plugin's unit: twelve lines in its journal, then it idles.
# shellcheck disable=SC2016
systemd-run --quiet --unit=sdloop-ledger -p MemoryAccounting=yes -p LogExtraFields=SDLOOP_PLUGIN=ledger \
        /bin/sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "ledger line $i"; done; exec sleep infinity' \
        || fail "systemd-run"
# Something else that logs, without the field: it must not show up.
systemd-run --quiet --unit=other -p LogExtraFields=SDLOOP_PLUGIN=other \
        /bin/sh -c 'echo "other line"; exec sleep infinity' || fail "systemd-run other"
wait_for 20 sh -c 'journalctl -o cat SDLOOP_PLUGIN=ledger | grep -q "ledger line 12"' || fail "no journal lines"
wait_for 20 sh -c 'journalctl -o cat SDLOOP_PLUGIN=other | grep -q "other line"' || fail "no other lines"

# fake-sdloopd owns org.sdloop1 on the system bus.
DBUS_SESSION_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket "$fake" >/tmp/fake.out 2>/tmp/fake.log &
fake_pid=$!
wait_for 20 grep -q READY /tmp/fake.out || fail "fake-sdloopd: $(cat /tmp/fake.log)"

"$sdloopctl" list >"$out" || fail "list on the system bus"
grep -q '^ledger .* running ' "$out" || fail "list"
ok "sdloopctl talks to the system bus by default"

# --- Memory: from systemd -----------------------------------------------------------------------------------
mc=$(systemctl show -P MemoryCurrent sdloop-ledger.service)
case $mc in
        ''|*[!0-9]*)
                # No memory controller here: then the unit has no figure and VmRSS of MainPID stands in.
                "$sdloopctl" status --json=short ledger >"$out"
                grep -q '"memory_current":[0-9]' "$out" || fail "no memory at all"
                ok "Memory: the unit has no MemoryCurrent ($mc) here; VmRSS stood in" ;;
        *)
                got=
                for _ in 1 2 3 4 5; do
                        a=$(systemctl show -P MemoryCurrent sdloop-ledger.service)
                        got=$("$sdloopctl" status --json=short ledger | sed -n 's/.*"memory_current":\([0-9]*\).*/\1/p')
                        b=$(systemctl show -P MemoryCurrent sdloop-ledger.service)
                        [ "$got" = "$a" ] || [ "$got" = "$b" ] && break
                        got=
                done
                [ -n "$got" ] || fail "memory_current is not the unit's MemoryCurrent ($a)"
                ok "Memory: is the unit's MemoryCurrent ($got), not the process's VmRSS" ;;
esac

# --- the journal ------------------------------------------------------------------------------------------
"$sdloopctl" status ledger >"$out" || fail "status ledger exited $?"
head -n 1 "$out" | grep -q '^● ledger - relayer plugin$' || fail "● line"
# Eight lines of fields, a blank line, then the log.
[ "$(sed -n 9p "$out")" = "" ] || fail "no blank line before the journal"
tail -n +10 "$out" >/tmp/journal.txt
[ "$(wc -l </tmp/journal.txt)" -eq 10 ] || fail "expected the last 10 journal lines"
head -n 1 /tmp/journal.txt | grep -qE '^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [^ ]+ sh\[[0-9]+\]: ledger line 3$' \
        || fail "journal line format: $(head -n 1 /tmp/journal.txt)"
tail -n 1 /tmp/journal.txt | grep -q ': ledger line 12$' || fail "last journal line"
! grep -q 'other line' "$out" || fail "another unit's lines in the plugin's status"
ok "status shows the plugin's last 10 journal lines in the short format, and only its own"

"$sdloopctl" status --lines=2 ledger >"$out" || fail "status --lines=2"
[ "$(tail -n +10 "$out" | wc -l)" -eq 2 ] || fail "--lines=2"
tail -n 1 "$out" | grep -q ': ledger line 12$' || fail "--lines=2: last line"
"$sdloopctl" status -n 0 ledger >"$out" || fail "status -n 0"
[ "$(wc -l <"$out")" -eq 8 ] || fail "-n 0 still shows the journal"
ok "status --lines=N"

# A plugin that never logged: the fields only.
"$sdloopctl" status median-eth >"$out"
[ $? -eq 3 ] || fail "status median-eth: expected exit 3"
[ "$(wc -l <"$out")" -eq 8 ] || fail "journal lines for a plugin that never logged"
ok "no journal section for a plugin without log lines"

kill "$fake_pid"
systemctl stop sdloop-ledger.service other.service
echo "all $passed passed"
