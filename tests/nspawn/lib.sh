# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the scripts that run inside the booted container (tests/nspawn/run.sh), sourced with
# `. "$(dirname "$0")/lib.sh"` after setting sdloopctl=…: TAP lines, bounded waits, the plugins' properties
# and the feed's counters as sdloopctl shows them. A script may define dump() to say more when it fails.

passed=0

dump() {
        systemctl list-units --all --no-pager 'sdloop*' || :
        journalctl --no-pager -o short-monotonic -n 100 -u sdloopd.service || :
}

fail() {
        echo "FAIL: $*"
        dump
        exit 1
}

ok() {
        passed=$((passed + 1))
        echo "ok $passed - $*"
}

# wait_for SECONDS COMMAND...: a bound for giving up, not a measurement.
wait_for() {
        n=$(( $1 * 20 ))
        shift
        while ! "$@" >/dev/null 2>&1; do
                n=$((n - 1))
                [ $n -gt 0 ] || return 1
                sleep 0.05
        done
}

prop() { busctl get-property org.sdloop1 "/org/sdloop1/plugin/$1" org.sdloop1.PluginInstance "$2" | cut -d' ' -f2- | tr -d '"'; }
state_is() { [ "$(prop "$1" State)" = "$2" ]; }
pid_changed() { p=$(prop "$1" MainPID); [ "$p" != 0 ] && [ "$p" != "$2" ]; }
feeds_json() { "$sdloopctl" feeds --json=short; }
feed_field() { feeds_json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[0]['$1'])"; }
reports() { feed_field reports_transmitted 2>/dev/null || echo 0; }
reports_at_least() { [ "$(reports)" -ge "$1" ]; }

# The package's bus policy, so that root may own org.sdloop1.
install_bus_policy() {
        mkdir -p /etc/dbus-1/system.d
        cp "$1" /etc/dbus-1/system.d/org.sdloop1.conf
        busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig || fail "ReloadConfig"
}

# write_feed_config FILE CHAIN LEDGER MEDIAN INTERVAL_SEC [TOP_LEVEL]: the ledger relayer on chain CHAIN, the
# median plugin MEDIAN and feed eth-usd (four oracles, f = 1, reporting every round); TOP_LEVEL (e.g.
# '"metrics": { … },') is put first.
write_feed_config() {
        cat >"$1" <<EOF2
{
        ${6:-}
        "defaults": { "restart": "always", "restart_sec": 0.1, "call_timeout_sec": 10 },
        "plugins": {
                "ledger": { "kind": "relayer", "binary": "$3",
                            "relayer": { "config": { "chain_id": "$2" } } },
                "median": { "kind": "median", "binary": "$4" }
        },
        "feeds": {
                "eth-usd": {
                        "relayer": "ledger", "median": "median", "n": 4, "f": 1,
                        "onchain_config": { "min": "0", "max": "1000000000000000" },
                        "offchain_config": { "alpha_report_ppb": 0, "alpha_accept_ppb": 0, "delta_c_sec": 0 },
                        "round_interval_sec": $5,
                        "value": { "type": "random_walk", "start": "200000000000", "step_ppm": 2000, "seed": 1 },
                        "juels_per_fee_coin": { "type": "constant", "value": "1000000000000000000" }
                }
        }
}
EOF2
}
