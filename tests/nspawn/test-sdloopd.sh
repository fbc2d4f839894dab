#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Inside the booted container (tests/nspawn/run.sh), as root: sdloopd as a Type=notify service with a
# watchdog, on the system bus, with the system backend. Its plugins are transient units; they outlive
# sdloopd and the next sdloopd adopts them instead of starting them again.
#
#   test-sdloopd.sh SDLOOPD EXAMPLE_PLUGIN RELAYER_LEDGER DBUS_POLICY SDLOOPCTL

set -u

sdloopd=$1 example=$2 ledger=$3 policy=$4 sdloopctl=$5
cfg=/tmp/sdloop-etc
state=/var/lib/sdloop-test
. "$(dirname "$0")/lib.sh"

dump() {
        echo "=== units ==="
        systemctl list-units --all --no-pager 'sdloop*' || :
        echo "=== journal ==="
        journalctl --no-pager -o short-monotonic -n 200 -u "sdloopd-*" -u "sdloop-*" || :
        echo "=== sdloopd ==="
        journalctl --no-pager -o cat -n 60 -u "sdloopd-*" || :
}

manager() { busctl call org.sdloop1 /org/sdloop1 org.sdloop1.Manager "$@"; }

# A failed check ends the test at once, its diagnostics printed: the sdloopd units it leaves running are
# killed, or the container's shutdown may wait out their stop timeout (sdloopd, once past the first checks,
# has been seen not to end on the shutdown's SIGTERM and to take the whole 90 s). A passing run stops them
# itself.
on_exit() {
        rc=$?
        [ $rc -eq 0 ] || systemctl kill --signal=SIGKILL 'sdloopd-*.service' 2>/dev/null || :
        exit $rc
}
trap on_exit EXIT

start_sdloopd() {
        # Type=notify: systemd-run returns once sdloopd said READY=1.
        systemd-run --quiet --unit="$1" -p Type=notify -p NotifyAccess=main -p WatchdogSec=20s \
                -E SDLOOP_LOG_LEVEL=debug "$sdloopd" --system --backend=system --config "$cfg/sdloopd.json" \
                || fail "sdloopd did not start as $1"
}

echo "$(systemctl --version | head -n 1); system: $(systemctl is-system-running 2>/dev/null || true)"

# The bus policy of the package, so that root may own org.sdloop1.
install_bus_policy "$policy"

mkdir -p "$cfg/plugins.d" "$state"
cat >"$cfg/sdloopd.json" <<EOF
{
        "state_directory": "$state",
        "metrics": { "listen": "127.0.0.1:9466" },
        "defaults": { "restart": "always", "restart_sec": 0.2, "memory_max": "256M", "tasks_max": 64 },
        "plugins": {
                "example": { "kind": "example", "binary": "$example" }
        }
}
EOF
# The ledger runs sandboxed as a dynamic user; it keeps its database in its own StateDirectory=.
cat >"$cfg/plugins.d/50-ledger.json" <<EOF
{
        "plugins": {
                "ledger": {
                        "kind": "relayer", "binary": "$ledger",
                        "relayer": { "config": { "chain_id": "nspawn-1" } }
                }
        }
}
EOF
# A plugin that can never start: it must end up failed, alone.
cat >"$cfg/plugins.d/60-crashloop.json" <<EOF
{
        "plugins": {
                "crashloop": { "kind": "example", "binary": "/bin/false", "restart": "always", "restart_sec": 0.05,
                               "start_limit_burst": 3, "start_limit_interval_sec": 30 }
        }
}
EOF

# --- start ------------------------------------------------------------------------------------------------
start_sdloopd sdloopd-1
[ "$(systemctl is-active sdloopd-1.service)" = active ] || fail "sdloopd-1 is not active"
ok "sdloopd started as a Type=notify service (READY=1 reached systemd)"

[ "$(busctl get-property org.sdloop1 /org/sdloop1 org.sdloop1.Manager Backend)" = 's "system"' ] || fail "Backend"
wait_for 20 state_is example running || fail "example is $(prop example State)"
wait_for 20 state_is ledger running || fail "ledger is $(prop ledger State)"
[ "$(prop example Unit)" = sdloop-example.service ] || fail "Unit is $(prop example Unit)"
[ "$(prop example Address)" = /run/sdloop/plugin/example.sock ] || fail "Address is $(prop example Address)"
systemctl is-active --quiet sdloop-example.socket sdloop-example.service sdloop-ledger.service || fail "plugin units"
[ "$(systemctl show -P DynamicUser sdloop-example.service)" = yes ] || fail "example does not run as a dynamic user"
[ "$(systemctl show -P MemoryMax sdloop-example.service)" = $((256 * 1024 * 1024)) ] || fail "MemoryMax"
[ "$(systemctl show -P TasksMax sdloop-example.service)" = 64 ] || fail "TasksMax"
ok "plugins run as transient units with the configured limits"

wait_for 20 sh -c "busctl tree org.sdloop1 | grep -q /org/sdloop1/plugin/ledger/relayer/" || fail "no relayer in the tree"
relayer=$(busctl tree org.sdloop1 | grep -o '/org/sdloop1/plugin/ledger/relayer/[0-9]*' | head -n1)
busctl call org.sdloop1 "$relayer" org.sdloop1.Relayer GetChainStatus | grep -q '"nspawn-1" true' || fail "GetChainStatus"
ok "the relayer is re-exported at $relayer and answers"

[ "$(systemctl show -P DynamicUser sdloop-ledger.service)" = yes ] || fail "the ledger does not run as a dynamic user"
[ -e /var/lib/sdloop-ledger/nspawn-1.sqlite ] || fail "no ledger in the plugin's state directory"
ok "the ledger runs sandboxed and keeps its database in /var/lib/sdloop-ledger"

# The units' accounting on the metrics endpoint: systemd's where it keeps it (a container may not have the
# controllers delegated: then MemoryCurrent is "[not set]" and the main process's figures stand in).
curl -sf http://127.0.0.1:9466/metrics >/tmp/metrics.txt || fail "GET /metrics"
for unit_prop in MemoryCurrent:sdloop_plugin_memory_bytes TasksCurrent:sdloop_plugin_tasks; do
        value=$(sed -n "s/^${unit_prop#*:}{plugin=\"ledger\"} //p" /tmp/metrics.txt)
        [ -n "$value" ] && [ "$value" -gt 0 ] || fail "${unit_prop#*:} of the ledger is '$value'"
done
restarts=$(sed -n 's/^sdloop_plugin_unit_restarts_total{plugin="ledger"} //p' /tmp/metrics.txt)
[ "$restarts" = "$(systemctl show -P NRestarts sdloop-ledger.service)" ] || fail "NRestarts of the ledger: $restarts"
grep -q '^sdloop_plugin_cpu_seconds_total{plugin="ledger"} ' /tmp/metrics.txt || fail "no CPU time of the ledger unit"
ok "/metrics serves the plugin units' accounting (systemd: MemoryCurrent=$(systemctl show -P MemoryCurrent sdloop-ledger.service), NRestarts=$restarts)"

journalctl --no-pager -o cat SDLOOP_PLUGIN=example | grep -q "example plugin example .* ready" \
        || fail "journalctl SDLOOP_PLUGIN=example shows no line of the plugin's own"
ok "journalctl SDLOOP_PLUGIN=example shows the plugin's log"

wait_for 30 state_is crashloop failed || fail "crashloop is $(prop crashloop State)"
prop crashloop LastError | grep -q "start limit" || fail "crashloop's LastError: $(prop crashloop LastError)"
state_is example running && state_is ledger running || fail "a crash-looping plugin took others along"
ok "a crash loop leaves that plugin failed ($(prop crashloop LastError)) and the others running"

systemctl --failed --no-legend --plain | grep -q "^sdloop-crashloop.service" \
        || fail "systemctl --failed does not list sdloop-crashloop.service: $(systemctl --failed --no-legend --plain)"
rc=0; systemctl status --no-pager sdloop-crashloop.service >/tmp/crashloop-status 2>&1 || rc=$?
[ $rc = 3 ] && grep -q "failed" /tmp/crashloop-status \
        || fail "systemctl status sdloop-crashloop.service (exit $rc): $(cat /tmp/crashloop-status)"
journalctl --no-pager -u sdloop-crashloop.service | grep -q "start" || fail "journalctl -u sdloop-crashloop.service is empty"
ok "the failed plugin stays a failed unit: systemctl --failed, systemctl status and journalctl -u show it"

"$sdloopctl" list --json=short > /tmp/list.json || fail "sdloopctl list --json"
python3 - /tmp/list.json <<'PY' || fail "sdloopctl list --json: $(cat /tmp/list.json)"
import json, sys
plugins = {p["name"]: p for p in json.load(open(sys.argv[1]))}
assert plugins["example"]["state"] == "running", plugins["example"]
assert plugins["ledger"]["state"] == "running", plugins["ledger"]
assert plugins["crashloop"]["state"] == "failed", plugins["crashloop"]
assert plugins["example"]["unit"] == "sdloop-example.service", plugins["example"]
PY
ok "sdloopctl list --json reports them"

# The bus policy: anyone may look, only root and the sdloop group may manage.
nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
nobody busctl introspect org.sdloop1 /org/sdloop1 >/dev/null || fail "an unprivileged user cannot introspect"
nobody busctl get-property org.sdloop1 /org/sdloop1/plugin/example org.sdloop1.PluginInstance State >/dev/null \
        || fail "an unprivileged user cannot read properties"
if nobody busctl call org.sdloop1 /org/sdloop1 org.sdloop1.Manager StopPlugin s example 2>/tmp/denied; then
        fail "an unprivileged user stopped a plugin"
fi
grep -qi "denied" /tmp/denied || fail "refusal did not say access denied: $(cat /tmp/denied)"
state_is example running || fail "example stopped after a refused call"
ok "a non-root caller may introspect but is refused management: $(head -n1 /tmp/denied)"


# --- kill -9: systemd restarts it, sdloopd follows --------------------------------------------------------
old=$(prop example MainPID)
kill -KILL "$old"
wait_for 20 sh -c '[ "$(busctl get-property org.sdloop1 /org/sdloop1/plugin/example org.sdloop1.PluginInstance NRestarts)" != "u 0" ]' \
        || fail "NRestarts did not grow"
wait_for 20 state_is example running || fail "example did not come back"
new=$(prop example MainPID)
[ "$new" != "$old" ] && [ "$new" != 0 ] || fail "MainPID $old → $new"
ok "kill -9: restarted by systemd (MainPID $old → $new, NRestarts $(prop example NRestarts))"

# --- sdloopd goes, the plugins stay; the next sdloopd adopts them ------------------------------------------
example_pid=$(prop example MainPID)
ledger_pid=$(prop ledger MainPID)
systemctl stop sdloopd-1.service
systemctl is-active --quiet sdloop-example.service sdloop-ledger.service || fail "plugin units stopped with sdloopd"
[ "$(systemctl show -P MainPID sdloop-example.service)" = "$example_pid" ] || fail "the example process changed"
ok "stopping sdloopd leaves the plugin units running"

start_sdloopd sdloopd-2
wait_for 20 state_is example running || fail "example is $(prop example State) after adoption"
wait_for 20 state_is ledger running || fail "ledger is $(prop ledger State) after adoption"
[ "$(prop example MainPID)" = "$example_pid" ] || fail "example was started anew ($(prop example MainPID))"
[ "$(prop ledger MainPID)" = "$ledger_pid" ] || fail "ledger was started anew"
journalctl --no-pager -u sdloopd-2.service | grep -q 'adopted the running instance' || fail "no adoption logged"
wait_for 20 sh -c "busctl call org.sdloop1 $relayer org.sdloop1.Relayer GetChainStatus" || fail "relayer not back"
ok "the next sdloopd adopts the running plugins (same MainPIDs) and re-creates the relayer"

# --- Reload removes, StopPlugin stops the units ----------------------------------------------------------------
rm "$cfg/plugins.d/50-ledger.json"
manager Reload || fail "Reload"
wait_for 20 sh -c '! systemctl is-active --quiet sdloop-ledger.socket' || fail "the removed plugin's units are still there"
ok "Reload of a removed plugin stops its units"

manager StopPlugin s example || fail "StopPlugin"
wait_for 20 sh -c '! systemctl is-active --quiet sdloop-example.socket' || fail "StopPlugin left the socket unit"
manager StartPlugin s example || fail "StartPlugin"
state_is example running || fail "StartPlugin"
ok "StopPlugin removes the units, StartPlugin creates them again"

wait_for 30 state_is crashloop failed || fail "crashloop is $(prop crashloop State) under sdloopd-2"
manager StopPlugin s crashloop || fail "StopPlugin crashloop"
# "stopped" once the backend has stopped and reset both units (asynchronously, after the reply).
wait_for 20 state_is crashloop stopped || fail "crashloop is $(prop crashloop State) after StopPlugin"
systemctl --failed --no-legend --plain | grep -q "^sdloop-crashloop\." \
        && fail "still failed after StopPlugin: $(systemctl --failed --no-legend --plain)"
wait_for 20 sh -c '[ -z "$(systemctl list-units --all --no-legend --plain "sdloop-crashloop.*")" ]' \
        || fail "StopPlugin left units behind: $(systemctl list-units --all --no-legend --plain 'sdloop-crashloop.*')"
[ ! -e /run/sdloop/plugin/crashloop.sock ] || fail "StopPlugin left the socket behind"
ok "StopPlugin of a failed plugin leaves no unit behind (not failed, not loaded, no socket)"

manager StopPlugin s example
systemctl stop sdloopd-2.service
echo "=== sdloopd's warnings and errors (for the record) ==="
journalctl --no-pager -o cat -p warning -u sdloopd-1.service -u sdloopd-2.service || :
echo "$passed passed, 0 failed"
