#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Inside the booted container (tests/nspawn/run.sh), as root: sdloopd (unit sdloopd.service, system
# backend, plugins sandboxed as transient units with DynamicUser=) runs a feed whose median plugin is the
# Python one (plugins/median-python). Reports land on the ledger; a kill -9 of the Python plugin is
# recovered and the feed goes on; busctl tree org.sdloop1 shows its re-exported objects; journalctl
# SDLOOP_PLUGIN=median shows its lines, with the fields its journal protocol sends.
#
#   test-median-python.sh SDLOOPD RELAYER_LEDGER PYTHON_MEDIAN DBUS_POLICY SDLOOPCTL

set -u

sdloopd=$1 ledger=$2 median=$3 policy=$4 sdloopctl=$5
cfg=/tmp/sdloop-etc
chain=median-python-1
db=/var/lib/sdloop-ledger/$chain.sqlite
. "$(dirname "$0")/lib.sh"

dump() {
        systemctl list-units --all --no-pager 'sdloop*' || :
        journalctl --no-pager -o short-monotonic -n 100 -u sdloopd.service || :
        journalctl --no-pager -o short-monotonic -n 50 SDLOOP_PLUGIN=median || :
}

echo "$(systemctl --version | head -n 1); system: $(systemctl is-system-running 2>/dev/null || true)"
install_bus_policy "$policy"

mkdir -p "$cfg"
write_feed_config "$cfg/sdloopd.json" "$chain" "$ledger" "$median" 0.2

systemd-run --quiet --unit=sdloopd -p Type=notify -p NotifyAccess=main -p WatchdogSec=20s \
        "$sdloopd" --system --backend=system --config "$cfg/sdloopd.json" || fail "sdloopd did not start"
wait_for 60 state_is ledger running || fail "ledger is $(prop ledger State)"
wait_for 60 state_is median running || fail "median is $(prop median State)"
unit=$(prop median Unit)
[ -n "$unit" ] && [ "$(systemctl show -P ActiveState "$unit")" = active ] || fail "no active unit for the median plugin ($unit)"
ok "the Python median plugin runs as $unit (User=$(systemctl show -P User "$unit"))"

wait_for 60 reports_at_least 3 || fail "the feed did not transmit 3 reports"
ok "reports are transmitted through the Python median plugin ($(reports))"

# --- busctl tree: its objects, re-exported by sdloopd -------------------------------------------------
busctl tree --list org.sdloop1 >/tmp/tree
grep -qx '/org/sdloop1/plugin/median' /tmp/tree || fail "busctl tree: no /org/sdloop1/plugin/median: $(cat /tmp/tree)"
grep -qE '^/org/sdloop1/plugin/median/factory/[0-9]+$' /tmp/tree || fail "busctl tree: no factory of the Python plugin: $(cat /tmp/tree)"
grep -qE '^/org/sdloop1/plugin/median/reporting_plugin/[0-9]+$' /tmp/tree || fail "busctl tree: no reporting plugin: $(cat /tmp/tree)"
ok "busctl tree org.sdloop1 shows the Python plugin's factory and reporting plugin"

# --- its journal lines -------------------------------------------------------------------------------
journalctl --no-pager -o cat SDLOOP_PLUGIN=median >/tmp/median.log
grep -q 'median plugin median 1.0 ready (protocol 2)' /tmp/median.log || fail "journalctl SDLOOP_PLUGIN=median: no start line: $(head -n 5 /tmp/median.log)"
grep -q 'median factory for provider' /tmp/median.log || fail "journalctl SDLOOP_PLUGIN=median: no factory line"
journalctl --no-pager -o export -n 1 SDLOOP_PLUGIN=median MESSAGE_ID= 2>/dev/null >/dev/null || :
journalctl --no-pager -o json -n 20 SDLOOP_PLUGIN=median | /usr/bin/python3 -c '
import json, sys
e = [json.loads(l) for l in sys.stdin if l.strip()]
assert e, "no entries"
assert all(x.get("SYSLOG_IDENTIFIER") == "sdloop-median-python" for x in e), e[0]
assert all("CODE_FILE" in x and "PRIORITY" in x for x in e), e[0]
' || fail "the journal entries lack the native protocol's fields"
ok "journalctl SDLOOP_PLUGIN=median shows the Python plugin's lines ($(wc -l </tmp/median.log)), with SYSLOG_IDENTIFIER and CODE_FILE"

# --- kill -9 --------------------------------------------------------------------------------------------
mp=$(prop median MainPID)
before=$(reports)
kill -KILL "$mp" || fail "kill $mp"
wait_for 60 pid_changed median "$mp" || fail "the Python median plugin did not come back"
wait_for 60 state_is median running || fail "median is $(prop median State)"
wait_for 60 reports_at_least $((before + 3)) || fail "reports stuck at $(reports) (were $before)"
journalctl --no-pager -o cat -u sdloopd.service | grep -q 'Plugin median: recovered in [0-9]* µs' || fail "no recovery logged"
ok "kill -9 of the Python median plugin (pid $mp) is recovered: pid $(prop median MainPID), $before → $(reports) reports"

# --- the ledger -----------------------------------------------------------------------------------------
systemctl stop sdloopd.service
n=$(/usr/bin/python3 -c "import sqlite3,sys; print(sqlite3.connect('file:$db?mode=ro', uri=True).execute('SELECT count(*) FROM transmissions').fetchone()[0])") ||
        fail "cannot read $db"
[ "$n" -ge $((before + 3)) ] || fail "the ledger holds $n transmissions, fewer than $((before + 3))"
ok "the ledger holds $n transmissions"

echo "$passed passed"
