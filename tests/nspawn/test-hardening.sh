#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Inside the booted container (tests/nspawn/run.sh), as root: sdloopd under the sandbox of its own unit
# (units/sdloopd.service, only ExecStart= pointed at this build) keeps every feature working, and the
# bus policy (dbus/org.sdloop1.conf) lets everyone look and only root and group sdloop manage.
#
#   - systemd-analyze security: sdloopd.service at most 3.0, the plugin units at most 2.8;
#   - a feed whose oracles read an http source (AF_INET), a file and a command lands reports with no
#     failed observation; kill -9 of a plugin and of sdloopd itself are recovered from; Reload and
#     systemctl reload work; the keystore stays private (0700/0600) and out of the journal;
#   - as nobody: sdloopctl list, feeds and health work, management is refused with AccessDenied; as a
#     member of group sdloop: management works; as root: everything;
#   - the exec backend under the same sandbox (its plugins inherit it) runs the feed too.
#
#   test-hardening.sh SDLOOPD SDLOOPCTL RELAYER_LEDGER MEDIAN_PLUGIN EXAMPLE_PLUGIN UNIT_FILE DBUS_POLICY SYSUSERS

set -u

sdloopd=$1 sdloopctl=$2 ledger=$3 median=$4 example=$5 unit=$6 policy=$7 sysusers=$8
port=18080
. "$(dirname "$0")/lib.sh"

dump() {
        echo "=== units ==="
        systemctl list-units --all --no-pager 'sdloop*' || :
        echo "=== sdloopd ==="
        journalctl --no-pager -o short-monotonic -n 150 -u sdloopd.service || :
}

nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
operator() { setpriv --reuid=sdloopop --regid=sdloopop --init-groups "$@"; }

# "→ Overall exposure level for UNIT: 1.6 OK 🙂" → 1.6
exposure() {
        systemd-analyze security --no-pager "$1" 2>/dev/null |
                sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\) .*/\1/p'
}
# A score "X.Y" at most $2 tenths (no awk: /usr/bin/awk is an alternatives link into an empty /etc here).
at_most() {
        case $1 in
                [0-9].[0-9]|10.0) [ $(( ${1%.*} * 10 + ${1#*.} )) -le "$2" ] ;;
                *) return 1 ;;
        esac
}

# The error name dbus-send prints for a refused call: "Error org.freedesktop.DBus.Error.AccessDenied: …".
call_as() {
        who=$1
        shift
        $who dbus-send --system --print-reply --dest=org.sdloop1 "$@" 2>&1
}

use_unit() {
        mkdir -p /etc/systemd/system/sdloopd.service.d
        cat >/etc/systemd/system/sdloopd.service.d/50-test.conf <<EOF
[Service]
ExecStart=
ExecStart=$sdloopd --system --config /etc/sdloop/sdloopd.json $*
Environment=SDLOOP_LOG_LEVEL=debug
EOF
        systemctl daemon-reload || fail "daemon-reload"
}

echo "$(systemctl --version | head -n 1); system: $(systemctl is-system-running 2>/dev/null || true)"

# --- setup: the group, an operator in it, the policy, the unit ----------------------------------------------
# The group before the policy is loaded: dbus-daemon resolves group names when it reads its configuration.
systemd-sysusers "$sysusers" || fail "systemd-sysusers $sysusers"
systemd-sysusers --inline 'u sdloopop - "sdloop operator"' 'm sdloopop sdloop' || fail "the operator"
id -nG sdloopop | grep -qw sdloop || fail "sdloopop is not in group sdloop: $(id sdloopop)"
install_bus_policy "$policy"

cp "$unit" /etc/systemd/system/sdloopd.service
use_unit

# The sources an oracle may read: http on the loopback, a file, a command.
mkdir -p /srv/www /srv/prices
echo '{ "data": { "price": "2000.5" } }' >/srv/www/price.json
echo 2000.25 >/srv/prices/eth-usd
systemd-run --quiet --unit=test-http -p DynamicUser=yes \
        /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory /srv/www "$port" || fail "http server"
wait_for 20 /usr/bin/python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/price.json')" \
        || fail "the http server does not answer"

mkdir -p /etc/sdloop/plugins.d
cat >/etc/sdloop/sdloopd.json <<EOF
{
        "defaults": { "restart": "always", "restart_sec": 0.1 },
        "plugins": {
                "ledger": { "kind": "relayer", "binary": "$ledger",
                            "relayer": { "config": { "chain_id": "harden-1" } } },
                "median": { "kind": "median", "binary": "$median" }
        },
        "feeds": {
                "eth-usd": {
                        "relayer": "ledger", "median": "median", "n": 4, "f": 1,
                        "onchain_config": { "min": "0", "max": "1000000000000000" },
                        "offchain_config": { "alpha_report_ppb": 0, "alpha_accept_ppb": 0, "delta_c_sec": 0 },
                        "round_interval_sec": 0.5,
                        "value": { "type": "constant", "value": "200000000000" },
                        "juels_per_fee_coin": { "type": "constant", "value": "1000000000000000000" },
                        "oracles": [
                                null,
                                { "value": { "type": "http", "url": "http://localhost:$port/price.json",
                                             "json_path": "data.price", "multiplier": "1e8" } },
                                { "value": { "type": "file", "path": "/srv/prices/eth-usd", "multiplier": "1e8" } },
                                { "value": { "type": "command", "argv": ["cat", "/srv/prices/eth-usd"],
                                             "multiplier": "1e8" } }
                        ]
                }
        }
}
EOF

# --- the sandbox is what the unit says -----------------------------------------------------------------------
systemctl start sdloopd.service || fail "systemctl start sdloopd"
[ "$(busctl get-property org.sdloop1 /org/sdloop1 org.sdloop1.Manager Backend)" = 's "system"' ] || fail "Backend"
[ -z "$(systemctl show -P CapabilityBoundingSet sdloopd.service)" ] ||
        fail "CapabilityBoundingSet is $(systemctl show -P CapabilityBoundingSet sdloopd.service)"
[ "$(systemctl show -P ProtectSystem sdloopd.service)" = strict ] || fail "ProtectSystem"
[ "$(systemctl show -P MemoryDenyWriteExecute sdloopd.service)" = yes ] || fail "MemoryDenyWriteExecute"
pid=$(systemctl show -P MainPID sdloopd.service)
grep -q '^CapEff:[[:space:]]*0*$' "/proc/$pid/status" || fail "sdloopd has capabilities: $(grep ^Cap /proc/$pid/status)"
grep -q '^Seccomp:[[:space:]]*2$' "/proc/$pid/status" || fail "sdloopd runs without a system call filter"
ok "sdloopd.service runs sandboxed: no capability, ProtectSystem=strict, a seccomp filter"

wait_for 30 state_is ledger running || fail "ledger is $(prop ledger State)"
wait_for 30 state_is median running || fail "median is $(prop median State)"
score=$(exposure sdloopd.service)
at_most "$score" 30 || fail "systemd-analyze security sdloopd.service: ${score:-no score} (more than 3.0)"
ok "systemd-analyze security sdloopd.service: $score (at most 3.0)"
for u in sdloop-ledger.service sdloop-median.service; do
        s=$(exposure "$u")
        at_most "$s" 28 || fail "systemd-analyze security $u: ${s:-no score} (more than 2.8)"
        ok "systemd-analyze security $u: $s (at most 2.8)"
done

# --- the feed: every source answers from inside the sandbox ---------------------------------------------------
wait_for 60 reports_at_least 3 || fail "no 3 reports: $("$sdloopctl" feeds --json=short)"
[ "$(feed_field observations_failed)" = 0 ] ||
        fail "observations failed: $("$sdloopctl" feeds --json=short); $(journalctl -o cat -u sdloopd.service | grep -m3 'no observation')"
ok "the feed lands reports ($(reports)) from http, file and command sources, no observation failed"

# --- the keystore ---------------------------------------------------------------------------------------------
keys=/var/lib/sdloop/keys
[ "$(stat -c %a /var/lib/sdloop)" = 700 ] || fail "/var/lib/sdloop is $(stat -c %a /var/lib/sdloop)"
[ "$(stat -c '%U %a' $keys)" = "root 700" ] || fail "$keys is $(stat -c '%U %a' $keys)"
n_keys=$(find $keys -type f -name '*.key' | wc -l)
[ "$n_keys" -ge 4 ] || fail "$n_keys keys in $keys"
bad=$(find $keys \( -type f ! -perm 0600 \) -o \( -type d ! -perm 0700 \) -printf '%p %m\n')
[ -z "$bad" ] || fail "open to others in $keys: $bad"
journalctl --no-pager -o export >/tmp/journal.export
for k in $(find $keys -type f -name '*.key'); do
        secret=$(od -An -v -tx1 -N32 "$k" | tr -d ' \n')
        [ ${#secret} = 64 ] || fail "cannot read $k"
        grep -qi "$secret" /tmp/journal.export && fail "the secret of $k is in the journal"
done
ok "$keys is 0700, its $n_keys keys 0600, none of their secrets in the journal"

# --- the bus policy -------------------------------------------------------------------------------------------
for verb in list status feeds health; do
        out=$(nobody "$sdloopctl" $verb 2>&1) || fail "sdloopctl $verb as nobody: $out"
done
nobody "$sdloopctl" feeds --json=short | grep -q '"name": *"eth-usd"' || fail "sdloopctl feeds as nobody"
out=$(call_as nobody /org/sdloop1 org.sdloop1.Manager.GetFeedStatus string:eth-usd) ||
        fail "GetFeedStatus as nobody: $out"
nobody busctl get-property org.sdloop1 /org/sdloop1/plugin/ledger org.sdloop1.PluginInstance State >/dev/null ||
        fail "reading a property as nobody"
ok "as nobody: sdloopctl list, status, feeds and health, GetFeedStatus and the properties work"

for call in "StartPlugin string:median" "StopPlugin string:median" "RestartPlugin string:median" "Reload"; do
        set -- $call
        out=$(call_as nobody /org/sdloop1 "org.sdloop1.Manager.$1" ${2:+"$2"}) && fail "nobody may call $1"
        grep -q '^Error org.freedesktop.DBus.Error.AccessDenied' <<<"$out" || fail "$1 as nobody: $out"
done
out=$(nobody "$sdloopctl" stop median 2>&1) && fail "sdloopctl stop as nobody succeeded"
state_is median running || fail "median is $(prop median State) after refused calls"
ok "as nobody: StartPlugin, StopPlugin, RestartPlugin and Reload are refused with AccessDenied ($out)"

old=$(prop median MainPID)
out=$(operator "$sdloopctl" restart median 2>&1) || fail "sdloopctl restart as a member of sdloop: $out"
wait_for 30 pid_changed median "$old" || fail "median was not restarted"
wait_for 30 state_is median running || fail "median is $(prop median State)"
cat >/etc/sdloop/plugins.d/50-example.json <<EOF
{ "plugins": { "example": { "kind": "example", "binary": "$example" } } }
EOF
out=$(operator "$sdloopctl" reload 2>&1) || fail "sdloopctl reload as a member of sdloop: $out"
wait_for 30 state_is example running || fail "Reload did not start example: $(prop example State)"
out=$(operator "$sdloopctl" stop example 2>&1) || fail "sdloopctl stop as a member of sdloop: $out"
wait_for 30 state_is example stopped || fail "example is $(prop example State) after stop"
out=$(operator "$sdloopctl" start example 2>&1) || fail "sdloopctl start as a member of sdloop: $out"
wait_for 30 state_is example running || fail "example is $(prop example State) after start"
ok "as a member of sdloop: restart, reload, stop and start work"

rm /etc/sdloop/plugins.d/50-example.json
systemctl reload sdloopd.service || fail "systemctl reload sdloopd"
wait_for 30 sh -c '! systemctl is-active --quiet sdloop-example.socket' || fail "example's units stayed after reload"
"$sdloopctl" restart median || fail "sdloopctl restart as root"
wait_for 30 state_is median running || fail "median is $(prop median State)"
ok "as root: systemctl reload (SIGHUP) removes a plugin, sdloopctl restart works"

# --- kill -9: a plugin, then sdloopd itself -------------------------------------------------------------------
before=$(reports) lp=$(prop ledger MainPID)
kill -KILL "$lp" || fail "kill $lp"
wait_for 30 pid_changed ledger "$lp" || fail "the ledger did not come back"
wait_for 30 state_is ledger running || fail "ledger is $(prop ledger State)"
wait_for 60 reports_at_least $((before + 2)) || fail "reports stuck at $(reports) after the ledger's kill"
ok "kill -9 of the ledger: restarted, the feed goes on ($(reports) reports)"

dpid=$(systemctl show -P MainPID sdloopd.service) lp=$(prop ledger MainPID) mp=$(prop median MainPID)
before=$(reports)
kill -KILL "$dpid" || fail "kill $dpid"
wait_for 60 sh -c "[ \"\$(systemctl show -P MainPID sdloopd.service)\" != $dpid ] && systemctl is-active --quiet sdloopd.service" ||
        fail "sdloopd was not restarted: $(systemctl is-active sdloopd.service)"
wait_for 30 state_is ledger running || fail "ledger is $(prop ledger State) after sdloopd's restart"
[ "$(prop ledger MainPID)" = "$lp" ] && [ "$(prop median MainPID)" = "$mp" ] ||
        fail "the plugins were started anew: $lp → $(prop ledger MainPID), $mp → $(prop median MainPID)"
wait_for 60 reports_at_least $((before + 2)) || fail "reports stuck at $(reports) after sdloopd's kill"
ok "kill -9 of sdloopd: systemd restarts it, it adopts the running plugins, the feed goes on"

[ "$(feed_field observations_failed)" = 0 ] || fail "observations failed: $("$sdloopctl" feeds --json=short)"

# --- the exec backend under the same sandbox ------------------------------------------------------------------
for p in ledger median; do
        "$sdloopctl" stop "$p" || fail "sdloopctl stop $p"
done
systemctl stop sdloopd.service || fail "systemctl stop sdloopd"
wait_for 30 sh -c '[ -z "$(systemctl list-units --no-legend --plain "sdloop-*")" ]' ||
        fail "plugin units left: $(systemctl list-units --no-legend --plain 'sdloop-*')"
use_unit --backend=exec
systemctl start sdloopd.service || fail "systemctl start sdloopd (exec backend)"
[ "$(busctl get-property org.sdloop1 /org/sdloop1 org.sdloop1.Manager Backend)" = 's "exec"' ] || fail "Backend"
wait_for 30 state_is ledger running || fail "ledger is $(prop ledger State) under the exec backend"
wait_for 30 state_is median running || fail "median is $(prop median State) under the exec backend"
lp=$(prop ledger MainPID)
grep -q '^Seccomp:[[:space:]]*2$' "/proc/$lp/status" || fail "the exec backend's ledger runs without the filter"
grep -q '^CapEff:[[:space:]]*0*$' "/proc/$lp/status" || fail "the exec backend's ledger has capabilities"
wait_for 60 reports_at_least 2 || fail "no report under the exec backend: $("$sdloopctl" feeds --json=short)"
kill -KILL "$lp"
wait_for 30 pid_changed ledger "$lp" || fail "the exec backend did not restart the ledger"
wait_for 30 state_is ledger running || fail "ledger is $(prop ledger State)"
before=$(reports)
wait_for 60 reports_at_least $((before + 2)) || fail "reports stuck at $(reports) under the exec backend"
[ "$(feed_field observations_failed)" = 0 ] || fail "observations failed: $("$sdloopctl" feeds --json=short)"
[ -d /var/lib/sdloop/plugin/ledger ] || fail "the exec backend's ledger keeps no state in /var/lib/sdloop/plugin"
ok "the exec backend under the sandbox: its plugins inherit it, the feed lands reports, kill -9 is recovered"

systemctl stop sdloopd.service
echo "=== sdloopd's warnings and errors (for the record) ==="
journalctl --no-pager -o cat -p warning -u sdloopd.service || :
echo "$passed passed, 0 failed"
