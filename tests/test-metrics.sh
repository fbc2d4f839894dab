#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sdloopd's Prometheus endpoint, scraped by a real Prometheus: sdloopd (exec backend, private session bus) runs
# the ledger relayer, the median plugin and a feed; a Prometheus server started here scrapes /metrics and,
# through the /discovery http_sd document, every /plugins/<name>/metrics. PromQL over its HTTP API must then
# show the feed's reports equal to the ledger's count, each plugin's calls, a memory figure > 0; promtool
# accepts the exposition; and a frozen plugin delays nothing but its own part of a scrape.
#
# Environment (set by meson): SDLOOPD, SDLOOPCTL, SDLOOP_RELAYER_LEDGER, SDLOOP_MEDIAN_PLUGIN.
set -euo pipefail

: "${SDLOOPD:?}" "${SDLOOPCTL:?}" "${SDLOOP_RELAYER_LEDGER:?}" "${SDLOOP_MEDIAN_PLUGIN:?}"

for tool in dbus-daemon busctl curl prometheus promtool python3; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

tmp=$(mktemp -d /tmp/sdloop-metrics-XXXXXX)
dbus_pid= sdloopd_pid= prom_pid=
passed=0

cleanup() {
        local rc=$?
        [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null || :
        [ -n "$sdloopd_pid" ] && kill -KILL "$sdloopd_pid" 2>/dev/null || :
        for pid in $(pgrep -f -- "$tmp" 2>/dev/null || :); do kill -CONT "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null || :; done
        [ -n "$dbus_pid" ] && kill "$dbus_pid" 2>/dev/null || :
        if [ $rc -ne 0 ]; then
                for f in sdloopd.log prometheus.log; do
                        [ -f "$tmp/$f" ] && { echo "--- $f ---"; tail -n 60 "$tmp/$f"; }
                done
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { passed=$((passed + 1)); echo "ok $passed - $*"; }

wait_for() {
        local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
        shift
        until "$@" >/dev/null 2>&1; do
                [ "$(date +%s%N)" -lt "$deadline" ] || return 1
                sleep 0.1
        done
}

free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ctl() { "$SDLOOPCTL" --user "$@"; }
prop() { busctl --user get-property org.sdloop1 "/org/sdloop1/plugin/$1" org.sdloop1.PluginInstance "$2" | cut -d' ' -f2- | tr -d '"'; }
state_is() { [ "$(prop "$1" State)" = "$2" ]; }
feed_number() { ctl feeds --json=short | grep -o "\"$1\": *[0-9]*" | head -n1 | grep -o '[0-9]*$'; }
reports_at_least() { [ "$(feed_number reports_transmitted || echo 0)" -ge "$1" ]; }

# promql QUERY: the value of the query's only sample (empty when there is none).
promql() {
        curl -sf "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
if len(r) == 1:
    print(r[0]["value"][1])
elif len(r) > 1:
    sys.exit("more than one sample: %r" % r)
'
}
promql_is() { [ "$(promql "$1")" = "$2" ]; }
promql_positive() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$(promql "$1")"; }

# --- sdloopd ------------------------------------------------------------------------------------------------
mkdir -p "$tmp/run" "$tmp/state" "$tmp/prom"
dbus-daemon --session --nofork --print-address=3 3>"$tmp/bus-address" 2>"$tmp/dbus.log" &
dbus_pid=$!
wait_for 10 test -s "$tmp/bus-address" || fail "dbus-daemon did not start"
DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$tmp/bus-address")
export DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR=$tmp/run SDLOOP_LOG_TARGET=stderr
export HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_STATE_HOME=$tmp/xdg-state

metrics_port=$(free_port)
prom_port=$(free_port)
cat >"$tmp/sdloopd.json" <<JSON
{
        "backend": "exec",
        "socket_directory": "$tmp/run/plugin",
        "state_directory": "$tmp/state",
        "metrics": { "listen": "127.0.0.1:$metrics_port", "scrape_timeout_sec": 0.5 },
        "defaults": { "restart": "always", "restart_sec": 0.1, "probe_interval_sec": 0.2, "probe_failures": 1000 },
        "plugins": {
                "ledger": {
                        "kind": "relayer",
                        "binary": "$SDLOOP_RELAYER_LEDGER",
                        "relayer": { "config": { "chain_id": "sdloop-test", "ledger": "$tmp/state/ledger.db" } }
                },
                "median": { "kind": "median", "binary": "$SDLOOP_MEDIAN_PLUGIN" }
        },
        "feeds": {
                "eth-usd": {
                        "relayer": "ledger",
                        "median": "median",
                        "n": 4,
                        "f": 1,
                        "onchain_config": { "min": "0", "max": "1000000000000000" },
                        "offchain_config": { "alpha_report_ppb": 0, "alpha_accept_ppb": 0, "delta_c_sec": 0 },
                        "round_interval_sec": 0.2,
                        "value": { "type": "random_walk", "start": "200000000000", "step_ppm": 2000, "seed": 1 },
                        "juels_per_fee_coin": { "type": "constant", "value": "1000000000000000000" }
                }
        }
}
JSON
"$SDLOOPD" --user --backend=exec --config "$tmp/sdloopd.json" 2>"$tmp/sdloopd.log" &
sdloopd_pid=$!
wait_for 20 state_is ledger running || fail "ledger plugin never ran"
wait_for 20 state_is median running || fail "median plugin never ran"
wait_for 30 reports_at_least 3 || { ctl feeds; fail "the feed did not transmit 3 reports"; }
ok "sdloopd runs the feed, metrics endpoint on 127.0.0.1:$metrics_port"

base=http://127.0.0.1:$metrics_port
curl -sf "$base/metrics" >"$tmp/metrics.txt" || fail "GET /metrics"
curl -sfI "$base/metrics" | grep -qi '^content-type: text/plain; version=0.0.4' || fail "Content-Type of /metrics"
promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.log" 2>&1 || { cat "$tmp/promtool.log"; fail "promtool check metrics"; }
ok "/metrics is a valid exposition (promtool check metrics)"

for name in sdloop_plugin_memory_bytes sdloop_plugin_cpu_seconds_total sdloop_plugin_scrape_up \
            sdloop_feed_rounds_started_total sdloop_feed_reports_transmitted sdloop_plugin_state; do
        grep -q "^$name{" "$tmp/metrics.txt" || { cat "$tmp/metrics.txt"; fail "/metrics lacks $name"; }
done
grep -q '^sdloop_plugin_state{plugin="ledger",state="running"} 1$' "$tmp/metrics.txt" || fail "ledger's state"
ok "/metrics has the plugins' accounting, states and the feed's counters"

curl -s -o /dev/null -w '%{http_code}' "$base/nothing" | grep -qx 404 || fail "an unknown path is not 404"
curl -s -o /dev/null -w '%{http_code}' "$base/plugins/nobody/metrics" | grep -qx 404 || fail "an unknown plugin is not 404"
curl -s -o /dev/null -w '%{http_code}' -X POST "$base/metrics" | grep -qx 405 || fail "POST is not 405"
ok "unknown paths and plugins are 404, POST is 405"

# --- /discovery: http_sd ----------------------------------------------------------------------------------------
curl -sf "$base/discovery" >"$tmp/discovery.json" || fail "GET /discovery"
python3 - "$tmp/discovery.json" "$base" >"$tmp/paths" <<'PY' || fail "/discovery is not a valid http_sd document"
import json, sys
doc = json.load(open(sys.argv[1]))
assert isinstance(doc, list) and doc, doc
for g in doc:
    assert set(g) == {"targets", "labels"}, g
    assert all(isinstance(t, str) and ":" in t for t in g["targets"]), g
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in g["labels"].items()), g
    print(g["labels"]["__metrics_path__"])
PY
[ "$(sort "$tmp/paths" | tr '\n' ' ')" = "/plugins/ledger/metrics /plugins/median/metrics " ] || { cat "$tmp/paths"; fail "discovery paths"; }
while read -r path; do
        curl -sf "$base$path" >"$tmp/part.txt" || fail "GET $path"
        promtool check metrics <"$tmp/part.txt" >/dev/null 2>&1 || fail "promtool check metrics on $path"
        grep -q '^sdloop_plugin_memory_bytes{plugin=' "$tmp/part.txt" || fail "$path lacks the plugin's memory"
done <"$tmp/paths"
ok "/discovery is valid http_sd and every path it lists answers with a valid exposition"

# --- a real Prometheus ----------------------------------------------------------------------------------------
cat >"$tmp/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sdloopd
    static_configs:
      - targets: ["127.0.0.1:$metrics_port"]
  - job_name: sdloop-plugins
    http_sd_configs:
      - url: "$base/discovery"
        refresh_interval: 5s
YAML
promtool check config "$tmp/prometheus.yml" >/dev/null || fail "promtool check config"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom" \
        --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!
wait_for 60 curl -sf "http://127.0.0.1:$prom_port/-/ready" || fail "Prometheus did not become ready"
wait_for 60 promql_is 'up{job="sdloopd"}' 1 || fail "Prometheus does not scrape sdloopd"
wait_for 60 promql_is 'count(up{job="sdloop-plugins"} == 1)' 2 || fail "Prometheus does not scrape the discovered plugins"
ok "Prometheus scrapes /metrics and the two plugin paths it discovered"

wait_for 30 promql_positive 'sdloop_plugin_memory_bytes{job="sdloopd",plugin="ledger"}' || fail "no memory figure for the ledger"
wait_for 30 promql_positive 'sdloop_plugin_cpu_seconds_total{job="sdloopd",plugin="median"}' || fail "no CPU figure for the median plugin"
ok "PromQL: the plugins' memory and CPU time are > 0"

wait_for 30 promql_positive 'sdloop_calls_total{job="sdloopd",plugin="median",side="server",member="Observation",outcome="ok"}' \
        || fail "no Observation calls counted by the median plugin"
wait_for 30 promql_positive 'sdloop_calls_total{job="sdloop-plugins",plugin="ledger",side="server",member="Transmit",outcome="ok"}' \
        || fail "no Transmit calls counted by the ledger (its own path)"
ok "PromQL: each plugin's calls, from /metrics and from its own discovered path"

# Both sides of a call count it: with the feed stopped (its relayer stopped), sdloopd's Observation calls
# into the median plugin are exactly the plugin's.
busctl --user call org.sdloop1 /org/sdloop1 org.sdloop1.Manager StopPlugin s ledger >/dev/null || fail "StopPlugin ledger"
curl -sf "$base/metrics" >"$tmp/still.txt" || fail "GET /metrics"
count() { sed -n "s/^sdloop_calls_total{plugin=\"$1\",side=\"$2\",interface=\"org.sdloop1.ReportingPlugin\",member=\"Observation\",outcome=\"ok\"} //p" "$tmp/still.txt"; }
client=$(count sdloopd client) server=$(count median server)
[ -n "$client" ] && [ "$client" -gt 0 ] && [ "$client" = "$server" ] \
        || { grep 'member="Observation"' "$tmp/still.txt"; fail "sdloopd counted $client Observation calls, the median plugin $server"; }
ok "sdloopd's client count of ReportingPlugin.Observation equals the median plugin's server count ($client)"
busctl --user call org.sdloop1 /org/sdloop1 org.sdloop1.Manager StartPlugin s ledger >/dev/null || fail "StartPlugin ledger"
wait_for 20 state_is ledger running || fail "ledger did not come back"

# The feed's count against the ledger's, once nothing moves: the median plugin stopped, the feed with it.
busctl --user call org.sdloop1 /org/sdloop1 org.sdloop1.Manager StopPlugin s median >/dev/null || fail "StopPlugin median"
ledger_count=$(feed_number reports_transmitted)
[ "$ledger_count" -ge 3 ] || fail "the ledger holds $ledger_count reports"
wait_for 30 promql_is 'sdloop_feed_reports_transmitted{job="sdloopd",feed="eth-usd"}' "$ledger_count" \
        || fail "Prometheus has $(promql 'sdloop_feed_reports_transmitted{job="sdloopd",feed="eth-usd"}') reports, the ledger $ledger_count"
ok "PromQL: the feed's report count equals the ledger's ($ledger_count)"

busctl --user call org.sdloop1 /org/sdloop1 org.sdloop1.Manager StartPlugin s median >/dev/null || fail "StartPlugin median"
wait_for 20 state_is median running || fail "median plugin did not come back"

# --- a frozen plugin stalls only its own part ------------------------------------------------------------------
median_pid=$(prop median MainPID)
kill -STOP "$median_pid"
start=$(date +%s%N)
curl -sf --max-time 10 "$base/metrics" >"$tmp/frozen.txt" || fail "/metrics did not answer with the median plugin frozen"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q '^sdloop_plugin_scrape_result{plugin="median",result="timeout"} 1$' "$tmp/frozen.txt" \
        || { grep scrape "$tmp/frozen.txt"; fail "the frozen plugin is not marked as timed out"; }
grep -q '^sdloop_plugin_scrape_up{plugin="median"} 0$' "$tmp/frozen.txt" || fail "the frozen plugin is not stale"
grep -q '^sdloop_plugin_scrape_up{plugin="ledger"} 1$' "$tmp/frozen.txt" || fail "the ledger's metrics are not served"
grep -q '^sdloop_feed_rounds_started_total{feed="eth-usd"}' "$tmp/frozen.txt" || fail "the rest is not served"
ok "with the median plugin frozen, /metrics answers (in $elapsed_ms ms) with it stale and the rest served"

# Reload moves the endpoint; a scrape still waiting for the frozen plugin is answered, not dropped.
new_port=$(free_port)
sed -i "s/127.0.0.1:$metrics_port/127.0.0.1:$new_port/; s/\"scrape_timeout_sec\": 0.5/\"scrape_timeout_sec\": 5/" "$tmp/sdloopd.json"
busctl --user call org.sdloop1 /org/sdloop1 org.sdloop1.Manager Reload >/dev/null || fail "Reload (old timeout)"
curl -s --max-time 20 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$new_port/metrics" >"$tmp/inflight.code" &
curl_pid=$!
sleep 0.5
sed -i "s/127.0.0.1:$new_port/127.0.0.1:$metrics_port/" "$tmp/sdloopd.json"
busctl --user call org.sdloop1 /org/sdloop1 org.sdloop1.Manager Reload >/dev/null || fail "Reload"
wait "$curl_pid" || :
grep -qx 503 "$tmp/inflight.code" || { cat "$tmp/inflight.code"; fail "the scrape in flight at Reload was not answered 503"; }
kill -CONT "$median_pid"
curl -sf "$base/metrics" >/dev/null || fail "the endpoint is not back on its port after Reload"
curl -s --max-time 2 "http://127.0.0.1:$new_port/metrics" >/dev/null && fail "the old address still answers"
ok "Reload moves the endpoint; a scrape in flight is answered 503, the new address serves"

kill -TERM "$sdloopd_pid"
wait "$sdloopd_pid" || fail "sdloopd did not exit cleanly"
sdloopd_pid=
echo "# $passed checks passed"
