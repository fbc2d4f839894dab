#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sdloopd end to end, with the exec backend on a private session bus: the Manager and PluginInstance objects,
# the re-exported relayer, a feed (ledger relayer + median plugin, four oracles) transmitting reports,
# recovery after kill -9 with the feed going on, Reload with a bad and a good configuration (a bad feed too),
# Stop/Start (a feed stops with its plugin and comes back with it), a bad configuration at start, and a clean
# SIGTERM that leaves no process behind.
#
# Environment (set by meson): SDLOOPD, SDLOOP_EXAMPLE_PLUGIN, SDLOOPCTL, SDLOOP_RELAYER_LEDGER and
# SDLOOP_MEDIAN_PLUGIN (the last three may be missing: the parts that need them are skipped).
set -euo pipefail

: "${SDLOOPD:?}" "${SDLOOP_EXAMPLE_PLUGIN:?}"
SDLOOP_RELAYER_LEDGER=${SDLOOP_RELAYER_LEDGER:-}
SDLOOP_MEDIAN_PLUGIN=${SDLOOP_MEDIAN_PLUGIN:-}
SDLOOPCTL=${SDLOOPCTL:-}

for tool in dbus-daemon busctl; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

tmp=$(mktemp -d /tmp/sdloopd-test-XXXXXX)
dbus_pid= sdloopd_pid= notify_pid=
passed=0

cleanup() {
        local rc=$?
        [ -n "$sdloopd_pid" ] && kill -KILL "$sdloopd_pid" 2>/dev/null || :
        # Plugins started from this test's binaries with this test's sockets.
        for pid in $(pgrep -f -- "$tmp" 2>/dev/null || :); do kill -KILL "$pid" 2>/dev/null || :; done
        for pid in $(plugin_pids); do kill -KILL "$pid" 2>/dev/null || :; done
        [ -n "$dbus_pid" ] && kill "$dbus_pid" 2>/dev/null || :
        [ -n "$notify_pid" ] && kill "$notify_pid" 2>/dev/null || :
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

# Children of this sdloopd (the plugins), by parent pid.
plugin_pids() {
        [ -n "$sdloopd_pid" ] && pgrep -P "$sdloopd_pid" 2>/dev/null || :
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
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
manager() { bus call org.sdloop1 /org/sdloop1 org.sdloop1.Manager "$@"; }
state_is() { [ "$(prop "$1" State)" = "$2" ]; }

# The feed as sdloopctl shows it (--json=short: one line; the test has one feed).
ctl() { "$SDLOOPCTL" --user "$@"; }
feed_number() { ctl feeds --json=short | grep -o "\"$1\": *[0-9]*" | head -n1 | grep -o '[0-9]*$'; }
feed_state() { ctl feeds --json=short | grep -o '"state": *"[a-z]*"' | head -n1 | grep -o '[a-z]*"$' | tr -d '"'; }
reports() { feed_number reports_transmitted || echo 0; }
# This run's, not the ledger's: a feed made anew starts again from 0.
run_reports() { feed_number rounds_transmitted || echo 0; }
reports_at_least() { [ "$(reports)" -ge "$1" ]; }
feed_state_is() { [ "$(feed_state)" = "$1" ]; }

# --- a private bus -------------------------------------------------------------------------------------------
mkdir -p "$tmp/run" "$tmp/state" "$tmp/etc/plugins.d"
dbus-daemon --session --nofork --print-address=3 3>"$tmp/bus-address" 2>"$tmp/dbus.log" &
dbus_pid=$!
wait_for 10 test -s "$tmp/bus-address" || fail "dbus-daemon did not start"
DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$tmp/bus-address")
export DBUS_SESSION_BUS_ADDRESS
export XDG_RUNTIME_DIR=$tmp/run
export SDLOOP_LOG_TARGET=stderr
# Keep away from the caller's files.
export HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_STATE_HOME=$tmp/xdg-state

# --- configuration -------------------------------------------------------------------------------------------
have_ledger=false
if [ -n "$SDLOOP_RELAYER_LEDGER" ] && [ -x "$SDLOOP_RELAYER_LEDGER" ]; then
        have_ledger=true
else
        echo "# SKIP part: the relayer-ledger plugin is not built (${SDLOOP_RELAYER_LEDGER:-not configured}); testing without a relayer"
fi

have_feed=false
if $have_ledger && [ -n "$SDLOOP_MEDIAN_PLUGIN" ] && [ -x "$SDLOOP_MEDIAN_PLUGIN" ] && [ -n "$SDLOOPCTL" ] &&
   [ -x "$SDLOOPCTL" ]; then
        have_feed=true
else
        echo "# SKIP part: no feed (needs the relayer-ledger and median plugins and sdloopctl)"
fi

# write_config RESTART_SEC [FEED_N [INTERVAL]]: the example plugin, the ledger relayer, the median plugin and
# feed eth-usd (four oracles, f = 1, a round every 0.2 s, reporting every round).
write_config() {
        local restart_sec=$1 feed_n=${2:-4} interval=${3:-0.2}
        {
                echo '{'
                echo '        "backend": "exec",'
                echo "        \"socket_directory\": \"$tmp/run/plugin\","
                echo "        \"state_directory\": \"$tmp/state\","
                # Probes every 0.2 s, but never so many missed that a frozen plugin is restarted by them: the test
        # looks at one while it is frozen.
        echo '        "defaults": { "restart": "always", "restart_sec": 0.1, "call_timeout_sec": 10,'
        echo '                      "probe_interval_sec": 0.2, "probe_failures": 1000 },'
                echo '        "plugins": {'
                echo '                "example": {'
                echo '                        "kind": "example",'
                echo "                        \"binary\": \"$SDLOOP_EXAMPLE_PLUGIN\","
                echo "                        \"restart_sec\": $restart_sec,"
                echo '                        "environment": { "EXAMPLE_GREETING": "hello" }'
                echo -n '                }'
                if $have_ledger; then
                        echo ','
                        echo '                "ledger": {'
                        echo '                        "kind": "relayer",'
                        echo "                        \"binary\": \"$SDLOOP_RELAYER_LEDGER\","
                        # A relayer that turns against its oracles: it forges a report with every key its
                        # keystore holds next to the first real one of each provider.
                        echo "                        \"relayer\": { \"config\": { \"chain_id\": \"sdloop-test\", \"ledger\": \"$tmp/state/ledger.db\","
                        echo '                                                     "test_forge_reports": true } }'
                        echo -n '                }'
                fi
                if $have_feed; then
                        echo ','
                        echo '                "median": {'
                        echo '                        "kind": "median",'
                        echo "                        \"binary\": \"$SDLOOP_MEDIAN_PLUGIN\""
                        echo -n '                }'
                fi
                echo
                echo -n '        }'
                if $have_feed; then
                        echo ','
                        echo '        "feeds": {'
                        echo '                "eth-usd": {'
                        echo '                        "relayer": "ledger",'
                        echo '                        "median": "median",'
                        echo "                        \"n\": $feed_n,"
                        echo '                        "f": 1,'
                        echo '                        "onchain_config": { "min": "0", "max": "1000000000000000" },'
                        echo '                        "offchain_config": { "alpha_report_ppb": 0, "alpha_accept_ppb": 0, "delta_c_sec": 0 },'
                        echo "                        \"round_interval_sec\": $interval,"
                        echo '                        "value": { "type": "random_walk", "start": "200000000000", "step_ppm": 2000, "seed": 1 },'
                        echo '                        "juels_per_fee_coin": { "type": "constant", "value": "1000000000000000000" }'
                        echo '                }'
                        echo -n '        }'
                fi
                echo
                echo '}'
        } >"$tmp/etc/sdloopd.json"
}
write_config 0.1

# --- a bad configuration is refused at start -----------------------------------------------------------------
cat >"$tmp/bad.json" <<EOF
{
        "plugins": {
                "broken": {
                        "kind": "example",
                        "binary": "$SDLOOP_EXAMPLE_PLUGIN",
                        "restart_sec": "abc"
                }
        }
}
EOF
if "$SDLOOPD" --user --backend=exec --config "$tmp/bad.json" 2>"$tmp/bad.log"; then
        fail "sdloopd started with a bad configuration"
fi
grep -qF "$tmp/bad.json:6:40: plugins.broken.restart_sec: expected a number of seconds, got \"abc\"" "$tmp/bad.log" \
        || { cat "$tmp/bad.log"; fail "the start error does not name file:line:column and field"; }
ok "a bad configuration is refused at start with file:line:column and field"

# --- start ----------------------------------------------------------------------------------------------------
# What sdloopd tells systemd: a notify socket of our own, and the watchdog on (WATCHDOG_PID must be
# sdloopd's own pid, so the shell that sets it execs sdloopd).
if command -v python3 >/dev/null; then
        python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode() + "\n")
' "$tmp/notify.sock" "$tmp/notify.log" &
        notify_pid=$!
        wait_for 10 test -S "$tmp/notify.sock" || fail "notify socket"
        export NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=1000000
fi
# Every call a span, every round sampled: one round is followed across processes below.
CL_TRACING_ENABLED=true CL_TRACING_SAMPLING_RATIO=1 \
sh -c 'export WATCHDOG_PID=$$; exec "$0" "$@"' "$SDLOOPD" --user --backend=exec --config "$tmp/etc/sdloopd.json" \
        2>"$tmp/sdloopd.log" &
sdloopd_pid=$!
unset NOTIFY_SOCKET WATCHDOG_USEC

wait_for 20 state_is example running || fail "example plugin never ran"
$have_ledger && { wait_for 20 state_is ledger running || fail "ledger plugin never ran"; }
$have_feed && { wait_for 20 state_is median running || fail "median plugin never ran"; }
ok "plugins are running"

# --- the feed ---------------------------------------------------------------------------------------------------
if $have_feed; then
        wait_for 30 reports_at_least 3 || { ctl feeds; fail "the feed did not transmit 3 reports in 30 s"; }
        ok "feed eth-usd transmits: $(reports) reports, state $(feed_state)"

        manager ListFeeds >"$tmp/feeds"
        grep -qE '^a\(ssuytts\) 1 "eth-usd" "[1-9][0-9]*" 1 [1-9][0-9]* [1-9][0-9]* [1-9][0-9]* "(running|failing)"$' "$tmp/feeds" \
                || { cat "$tmp/feeds"; fail "ListFeeds"; }
        ctl feeds >"$tmp/feeds.txt"
        grep -qE '^eth-usd +running +[1-9][0-9]* +1 +[0-9]+ ' "$tmp/feeds.txt" || { cat "$tmp/feeds.txt"; fail "sdloopctl feeds"; }
        ok "ListFeeds and sdloopctl feeds show the latest answer, epoch 1, its round, time and reports"

        grep -qE '^<6>sdloopd: Feed eth-usd: epoch 1 round [0-9]+: answer [0-9]+ transmitted \(report 1 on the ledger\)( \{[^}]*\})?$' \
                "$tmp/sdloopd.log" || fail "no log line for the first transmitted report"
        ok "every transmitted report is logged"

        # One transmitted round, by its trace id: spans of sdloopd, the relayer and the median plugin, each
        # under a span of the same round, and the ledger's log line for Transmit with the feed's contract
        # and job. (Without a journal every process logs to stderr, here sdloopd.log.)
        /usr/bin/python3 - "$tmp/sdloopd.log" <<'PY' || fail "the spans of a transmitted round"
import re, sys
lines = open(sys.argv[1], errors="replace").read().splitlines()
def fields(l):
    m = re.search(r" \{([^{}]*)\}$", l)
    return dict(kv.split("=", 1) for kv in re.findall(r"[A-Z_]+=[^ ]*", m.group(1))) if m else {}
roots = [l for l in lines if re.match(r"^<7>sdloopd: span feed\.round internal [0-9]+us transmitted \{", l)]
assert roots, "no transmitted feed.round span"
trace = fields(roots[0])["TRACE_ID"]
spans = [(l.split(":", 1)[0], fields(l)) for l in lines if " span " in l and fields(l).get("TRACE_ID") == trace and "SPAN_KIND" in fields(l)]
ids = {f["SPAN_ID"] for _, f in spans}
who = {w for w, _ in spans}
for w in ("<7>sdloopd", "<7>sdloop-relayer-ledger", "<7>sdloop-median"):
    assert any(x.startswith(w) for x in who), "no span of %s in trace %s (%s)" % (w, trace, sorted(who))
for w, f in spans:
    if f["SPAN_NAME"] == "feed.round":
        assert "PARENT_SPAN_ID" not in f, "the root has a parent"
    else:
        assert f.get("PARENT_SPAN_ID") in ids, "span %s of %s: parent %s not in the round" % (f["SPAN_NAME"], w, f.get("PARENT_SPAN_ID"))
tx = [fields(l) for l in lines if "Transmitted report of epoch" in l and fields(l).get("TRACE_ID") == trace]
assert tx, "no Transmit log line of the ledger in trace %s" % trace
assert tx[0].get("CONTRACT_ID") and tx[0].get("JOB_ID"), "Transmit line without CONTRACT_ID and JOB_ID: %s" % tx[0]
print("trace %s: %d spans from %s" % (trace, len(spans), ", ".join(sorted(who))), file=sys.stderr)
PY
        ok "a transmitted round is one trace: spans of sdloopd, the relayer and the median plugin, chained"

        # The plugin's own socket: busctl sees what the host created there — the relayer and the feed's
        # provider, one object carrying all six median provider interfaces.
        addr=unix:path=$tmp/run/plugin/ledger.sock
        busctl --address="$addr" tree org.sdloop1 >"$tmp/ledger-tree" || fail "busctl tree on the ledger socket"
        grep -q '/org/sdloop1/relayer/[0-9]' "$tmp/ledger-tree" || { cat "$tmp/ledger-tree"; fail "no relayer in the tree"; }
        provider=$(grep -o '/org/sdloop1/provider/[0-9]*' "$tmp/ledger-tree" | head -n1)
        [ -n "$provider" ] || { cat "$tmp/ledger-tree"; fail "no provider in the tree"; }
        busctl --address="$addr" introspect org.sdloop1 "$provider" >"$tmp/provider-introspect" || fail "introspect $provider"
        for iface in OffchainConfigDigester ContractConfigTracker ContractTransmitter ReportCodec MedianContract \
                     OnchainConfigCodec Service; do
                grep -q "^org.sdloop1.$iface " "$tmp/provider-introspect" || \
                        { cat "$tmp/provider-introspect"; fail "$provider lacks org.sdloop1.$iface"; }
        done
        busctl --address="$addr" call org.sdloop1 "$provider" org.sdloop1.ContractConfigTracker LatestBlockHeight \
                | grep -qE '^t [1-9]' || fail "LatestBlockHeight on $provider"
        ok "busctl --address on the ledger's socket: tree shows relayer and $provider, which carries all six interfaces"
fi

[ "$(bus get-property org.sdloop1 /org/sdloop1 org.sdloop1.Manager Backend)" = 's "exec"' ] || fail "Backend"
bus get-property org.sdloop1 /org/sdloop1 org.sdloop1.Manager Version | grep -q '^s "' || fail "Version"
ok "Manager properties"

bus tree org.sdloop1 >"$tmp/tree"
grep -q '/org/sdloop1/plugin/example$' "$tmp/tree" || { cat "$tmp/tree"; fail "tree lacks the example plugin"; }
if $have_ledger; then
        # The relayer is created once the plugin runs; wait for its re-export.
        wait_for 20 sh -c "busctl --user tree org.sdloop1 | grep -q '/org/sdloop1/plugin/ledger/relayer/'" \
                || { bus tree org.sdloop1; fail "tree lacks the re-exported relayer"; }
        bus tree org.sdloop1 >"$tmp/tree"
        relayer=$(grep -o '/org/sdloop1/plugin/ledger/relayer/[0-9]*' "$tmp/tree" | head -n1)
        ok "busctl tree shows the plugins and the re-exported relayer ($relayer)"
else
        ok "busctl tree shows the plugin"
fi

manager ListPlugins >"$tmp/list"
grep -q '"example" "example" "[^"]*" "running" 0 [1-9][0-9]* "/org/sdloop1/plugin/example" ""' "$tmp/list" \
        || { cat "$tmp/list"; fail "ListPlugins: example"; }
if $have_ledger; then
        grep -q '"ledger" "relayer" "[^"]*" "running" 0 [1-9][0-9]* "/org/sdloop1/plugin/ledger"' "$tmp/list" \
                || { cat "$tmp/list"; fail "ListPlugins: ledger"; }
fi
ok "ListPlugins shows them running"

[ "$(prop example Name)" = example ] && [ "$(prop example Kind)" = example ] || fail "Name/Kind"
[ "$(prop example Address)" = "$tmp/run/plugin/example.sock" ] || fail "Address is $(prop example Address)"
[ "$(prop example NRestarts)" = 0 ] || fail "NRestarts"
pid=$(prop example MainPID)
[ "$pid" -gt 0 ] && kill -0 "$pid" || fail "MainPID $pid is not a live process"
ok "PluginInstance properties"

if $have_ledger; then
        bus call org.sdloop1 "$relayer" org.sdloop1.Relayer GetChainStatus | grep -q '"sdloop-test" true' \
                || fail "GetChainStatus through the re-export"
        bus call org.sdloop1 "$relayer" org.sdloop1.Service HealthReport | grep -q '^a{ss} ' || fail "HealthReport"
        ok "busctl call reaches the relayer through its re-export"

        # Keys by trust: the relayer's keystore holds its chain accounts — the one made when it first asked for
        # accounts, and with the feed the feed's four transmitters (the first among them) — and the feed's
        # four OCR signing keys stay in sdloopd's own keystore, which no plugin sees.
        relayer_keys=("$tmp"/state/relayers/ledger/keys/*.key)
        n_relayer_keys=$($have_feed && echo 4 || echo 1)
        [ ${#relayer_keys[@]} -eq "$n_relayer_keys" ] && [ -f "${relayer_keys[0]}" ] \
                || fail "${#relayer_keys[@]} relayer keys, not $n_relayer_keys"
        ocr_keys=()
        if $have_feed; then
                ocr_keys=("$tmp"/state/keys/*.key)
                [ ${#ocr_keys[@]} -eq 4 ] && [ -f "${ocr_keys[0]}" ] || fail "${#ocr_keys[@]} OCR keys, not 4"
        else
                [ ! -e "$tmp/state/keys" ] || fail "OCR keys without a feed: $(ls "$tmp/state/keys")"
        fi
        for dir in "$tmp/state/relayers/ledger/keys" $($have_feed && echo "$tmp/state/keys"); do
                [ "$(stat -c %a "$dir")" = 700 ] || fail "key directory $dir has mode $(stat -c %a "$dir")"
        done
        for key in "${relayer_keys[@]}" "${ocr_keys[@]}"; do
                [ "$(stat -c %a "$key")" = 600 ] || fail "key file mode $(stat -c %a "$key")"
                [ "$(stat -c %s "$key")" = 64 ] || fail "key file size"
                basename "$key" | grep -qE '^[0-9a-f]{64}\.key$' || fail "key file name"
                ! grep -q "$(od -An -tx1 -N32 "$key" | tr -d ' \n')" "$tmp/sdloopd.log" || fail "secret key in the log"
        done
        for key in "${ocr_keys[@]}"; do
                [ ! -e "$tmp/state/relayers/ledger/keys/$(basename "$key")" ] || fail "an OCR key in the relayer's keystore"
        done
        ok "keys by trust: the relayer's keystore holds $n_relayer_keys accounts, sdloopd's ${#ocr_keys[@]} OCR keys (0600 in 0700 directories)"
fi

if $have_feed; then
        # The feed transmits from the relayer's first account: the contract names the relayer's accounts
        # as transmitters and the ledger records transmissions from it.
        transmitter=$(sed -nE "s/^<6>sdloopd: Feed eth-usd: transmitting from account ([0-9a-f]{64}) of ledger's keystore\.$/\1/p" \
                "$tmp/sdloopd.log" | head -n1)
        [ -n "$transmitter" ] && [ -f "$tmp/state/relayers/ledger/keys/$transmitter.key" ] \
                || fail "the feed's transmitter ${transmitter:-(none logged)} is not an account of the relayer"
        [ "$(sqlite3 -readonly "$tmp/state/ledger.db" "SELECT DISTINCT transmitter FROM transmissions")" = "$transmitter" ] \
                || fail "the ledger's transmissions come from $(sqlite3 -readonly "$tmp/state/ledger.db" "SELECT DISTINCT transmitter FROM transmissions")"
        ok "the feed transmits from an account of the relayer's keystore (${transmitter:0:16}…), and the ledger records it"
fi

if $have_feed; then
        # The relayer forged a report with every account it could list and submitted it: the ledger refused
        # each, since none of those keys is an oracle's.
        wait_for 20 grep -q 'Forgery done:' "$tmp/sdloopd.log" || fail "the relayer did not try its forgery"
        ! grep -q 'ACCEPTED by the ledger' "$tmp/sdloopd.log" \
                || { grep 'Forge' "$tmp/sdloopd.log"; fail "the ledger accepted a forged report"; }
        grep -q 'Forgery done: 4 accounts, 5 forged reports submitted, 5 refused\.' "$tmp/sdloopd.log" \
                || { grep 'Forge' "$tmp/sdloopd.log"; fail "the forgery's outcome"; }
        grep -qE 'Forged report of epoch [0-9]+ round [0-9]+ \(answer 666\) signed by account [0-9a-f]{64} as oracle [0-9]: refused: .*signature 0 \(signer [0-9]\) does not verify' \
                "$tmp/sdloopd.log" || { grep 'Forge' "$tmp/sdloopd.log"; fail "the forged report was not refused for its signature"; }
        ok "a relayer forging reports with every key of its keystore is refused by the ledger"
fi

# --- kill -9: restarted, recovered --------------------------------------------------------------------------
busctl --user monitor --match "sender=org.sdloop1,type=signal" >"$tmp/monitor" 2>&1 &
monitor_pid=$!
# The monitor is in place once it has seen something: make sdloopd say something harmless.
wait_for 10 sh -c "busctl --user call org.sdloop1 /org/sdloop1 org.sdloop1.Manager ListPlugins >/dev/null && grep -q 'Monitoring bus message stream\\|Member=' '$tmp/monitor'" \
        || fail "busctl monitor did not start"
before=$($have_feed && reports || echo 0)
for name in example $($have_ledger && echo ledger) $($have_feed && echo median); do
        old=$(prop $name MainPID)
        kill -KILL "$old"
        wait_for 20 sh -c "[ \"\$(busctl --user get-property org.sdloop1 /org/sdloop1/plugin/$name org.sdloop1.PluginInstance NRestarts)\" = 'u 1' ]" \
                || fail "$name: NRestarts did not grow (now $(prop $name NRestarts))"
        wait_for 20 state_is $name running || fail "$name: not running again (state $(prop $name State))"
        new=$(prop $name MainPID)
        [ "$new" -gt 0 ] && [ "$new" != "$old" ] && kill -0 "$new" || fail "$name: MainPID $new after restart"
        ok "$name: kill -9 → restarted (NRestarts 1, MainPID $old → $new), running"
done
wait_for 10 grep -q 'STRING "NRestarts";' "$tmp/monitor" || { cat "$tmp/monitor"; fail "no PropertiesChanged for NRestarts"; }
wait_for 10 grep -q 'Member=PluginStateChanged' "$tmp/monitor" || { cat "$tmp/monitor"; fail "no PluginStateChanged"; }
kill "$monitor_pid" 2>/dev/null || :
ok "PropertiesChanged (NRestarts, State, MainPID) and Manager.PluginStateChanged were signalled"
if $have_ledger; then
        # Same path, a new object behind it.
        wait_for 20 sh -c "busctl --user call org.sdloop1 $relayer org.sdloop1.Relayer GetChainStatus" \
                || fail "the re-exported relayer did not come back"
        ok "the re-exported relayer answers again at $relayer"
fi
if $have_feed; then
        # Both plugins of the feed were killed; it goes on, with every (epoch, round) used once.
        wait_for 30 reports_at_least $((before + 5)) || { ctl feeds; fail "reports stopped after kill -9 ($(reports))"; }
        grep -q 'Plugin median: recovered in [0-9]* µs' "$tmp/sdloopd.log" || fail "no recovery time logged"
        ok "the feed goes on after kill -9 of the median and the relayer plugin ($before → $(reports) reports)"
fi

# --- a frozen plugin: unresponsive, and nothing an operator runs hangs ----------------------------------------
# SIGSTOP: alive and connected, its event loop stopped. The ledger has re-exported objects (its relayer, the
# feed's provider); without it, the example plugin.
frozen=$($have_ledger && echo ledger || echo example)
other=$($have_ledger && echo example || echo "")
frozen_pid=$(prop $frozen MainPID)
kill -STOP "$frozen_pid"
wait_for 10 state_is $frozen unresponsive || fail "$frozen: not unresponsive when stopped (state $(prop $frozen State))"
prop $frozen LastError | grep -q '^no answer to Ping in 200 ms' || fail "$frozen: LastError $(prop $frozen LastError)"
ok "$frozen SIGSTOPped: State unresponsive, LastError \"$(prop $frozen LastError)\""

# ctl_bounded EXPECTED-STATUS OUT ARGS...: sdloopctl under timeout(1); a hang is a failure of its own.
ctl_bounded() {
        local want=$1 out=$2 rc=0
        shift 2
        timeout 15 "$SDLOOPCTL" --user "$@" >"$out" 2>&1 || rc=$?
        [ $rc -ne 124 ] || { cat "$out"; fail "sdloopctl $* hung while $frozen was frozen"; }
        [ $rc -eq "$want" ] || { cat "$out"; fail "sdloopctl $* exited with $rc, expected $want"; }
}
if [ -n "$SDLOOPCTL" ]; then
        ctl_bounded 0 "$tmp/frozen-list" list
        grep -qE "^$frozen +[a-z]+ +.* unresponsive +[0-9]+ +$frozen_pid .*no answer to Ping in 200 ms" "$tmp/frozen-list" \
                || { cat "$tmp/frozen-list"; fail "sdloopctl list does not show $frozen unresponsive"; }
        grep -qE '^example +example +.* running ' "$tmp/frozen-list" || [ "$frozen" = example ] \
                || { cat "$tmp/frozen-list"; fail "sdloopctl list: example is not running"; }
        ctl_bounded 3 "$tmp/frozen-status" status $frozen
        grep -q '^      State: unresponsive$' "$tmp/frozen-status" || { cat "$tmp/frozen-status"; fail "status"; }
        ctl_bounded 1 "$tmp/frozen-health" health
        grep -qE "^$frozen +- +unresponsive: no answer to Ping in 200 ms" "$tmp/frozen-health" \
                || { cat "$tmp/frozen-health"; fail "health does not name $frozen unresponsive"; }
        if $have_ledger; then
                # Its objects, by the paths busctl tree shows, answer Timeout; the others are as they are.
                grep -qE "^ledger +${relayer#/org/sdloop1/plugin/ledger/} +Timeout: plugin ledger is unresponsive" \
                        "$tmp/frozen-health" || { cat "$tmp/frozen-health"; fail "health: the relayer's row"; }
                grep -qE '^example +- +ok$' "$tmp/frozen-health" || { cat "$tmp/frozen-health"; fail "health: example"; }
                ctl_bounded 0 "$tmp/other-health" health example
                ctl_bounded 1 "$tmp/frozen-health.json" health --json=short
                python3 -c '
import json, sys
j = {p["name"]: p for p in json.load(open(sys.argv[1]))["plugins"]}
l = j["ledger"]
assert l["state"] == "unresponsive" and not l["healthy"], l
assert l["services"] and all(v.startswith("Timeout: ") for v in l["services"].values()), l
assert j["example"]["healthy"] and j["example"]["state"] == "running", j["example"]
' "$tmp/frozen-health.json" || { cat "$tmp/frozen-health.json"; fail "health --json while $frozen is frozen"; }
        fi
        ctl_bounded 0 "$tmp/frozen-feeds" feeds
        ok "sdloopctl list, status, health and feeds return while $frozen is frozen; health shows its objects Timeout"
fi

if $have_ledger; then
        # busctl on the frozen plugin's re-exported object: answered, at once, not after its own 25 s.
        rc=0
        timeout 15 busctl --user introspect org.sdloop1 "$relayer" >"$tmp/introspect" 2>&1 || rc=$?
        [ $rc -ne 124 ] && [ $rc -ne 0 ] && grep -q 'unresponsive' "$tmp/introspect" \
                || { cat "$tmp/introspect"; fail "introspect of the frozen relayer (exit $rc)"; }
        rc=0
        timeout 15 busctl --user call org.sdloop1 "$relayer" org.sdloop1.Service HealthReport >"$tmp/hr" 2>&1 || rc=$?
        [ $rc -ne 124 ] && [ $rc -ne 0 ] && grep -q 'unresponsive' "$tmp/hr" || { cat "$tmp/hr"; fail "HealthReport (exit $rc)"; }
        ok "Introspect and HealthReport of the frozen plugin's re-export are answered at once"
fi

if [ -n "$other" ]; then
        # Requests on another plugin are answered while this one is frozen.
        old=$(prop $other MainPID)
        timeout 15 busctl --user call org.sdloop1 /org/sdloop1 org.sdloop1.Manager RestartPlugin s $other \
                || fail "RestartPlugin $other while $frozen is frozen"
        state_is $other running && [ "$(prop $other MainPID)" != "$old" ] || fail "$other after RestartPlugin: $(prop $other State)"
        timeout 15 busctl --user call org.sdloop1 /org/sdloop1 org.sdloop1.Manager StartPlugin s $other \
                || fail "StartPlugin $other while $frozen is frozen"
        ok "RestartPlugin and StartPlugin of $other are answered while $frozen is frozen"
fi

# Restarting the frozen plugin kills it (it would not act on SIGTERM) and brings it back.
rc=0
timeout 30 busctl --user call org.sdloop1 /org/sdloop1 org.sdloop1.Manager RestartPlugin s $frozen 2>"$tmp/err" || rc=$?
[ $rc -eq 0 ] || { cat "$tmp/err"; fail "RestartPlugin of the frozen $frozen (exit $rc)"; }
state_is $frozen running || fail "$frozen after RestartPlugin: $(prop $frozen State)"
[ "$(prop $frozen MainPID)" != "$frozen_pid" ] && ! kill -0 "$frozen_pid" 2>/dev/null || fail "the frozen process is still there"
ok "RestartPlugin of the frozen $frozen is answered: a new process, running"
if $have_feed; then
        before=$(reports)
        wait_for 30 reports_at_least $((before + 2)) || { ctl feeds; fail "the feed did not go on after $frozen was restarted"; }
        ok "the feed goes on after the frozen $frozen was restarted"
fi

if $have_feed; then
        # The audit: every transmission on the ledger is a report the feed's oracles signed and logged, none a
        # forged one, though each relayer process (started, killed, frozen and restarted) tried once. The
        # feed logs a transmission when the relayer answered: one just recorded is logged a moment later.
        ledger_rows() {
                sqlite3 -readonly "$tmp/state/ledger.db" \
                        "SELECT epoch || ' ' || round || ' ' || answer FROM transmissions WHERE contract_id = 'eth-usd'" \
                        | sort -u
        }
        feed_rows() {
                sed -nE 's/^<6>sdloopd: Feed eth-usd: epoch ([0-9]+) round ([0-9]+): answer ([0-9]+) transmitted .*/\1 \2 \3/p' \
                        "$tmp/sdloopd.log" | sort -u
        }
        ledger_rows >"$tmp/ledger-transmissions" || fail "cannot read the ledger"
        all_logged() { [ -z "$(comm -23 "$tmp/ledger-transmissions" <(feed_rows))" ]; }
        wait_for 20 all_logged || fail "transmissions on the ledger the feed never made: $(comm -23 "$tmp/ledger-transmissions" <(feed_rows))"
        n_ledger=$(wc -l <"$tmp/ledger-transmissions")
        n_forgeries=$(grep -c 'Forgery done:' "$tmp/sdloopd.log")
        [ "$n_ledger" -gt 0 ] && [ "$n_forgeries" -ge 3 ] || fail "$n_ledger transmissions, $n_forgeries forgeries"
        ! grep -q 'ACCEPTED by the ledger' "$tmp/sdloopd.log" || fail "the ledger accepted a forged report"
        # Every set-up of the feed (start, recoveries) went on with the transmitters the contract names.
        transmitters=$(sed -nE "s/^<6>sdloopd: Feed eth-usd: transmitting from account ([0-9a-f]{64}) .*/\1/p" "$tmp/sdloopd.log" | sort -u)
        [ "$transmitters" = "$transmitter" ] || fail "the feed changed transmitters: $transmitters"
        [ "$(sqlite3 -readonly "$tmp/state/ledger.db" "SELECT DISTINCT transmitter FROM transmissions")" = "$transmitter" ] \
                || fail "transmissions from another account"
        ok "ledger audit: all $n_ledger transmissions are the feed's; all $n_forgeries forgeries were refused"
fi

# --- Reload with a bad configuration: refused, the running one kept ------------------------------------------
pid_before=$(prop example MainPID)
write_config '"abc"'
line=$(grep -n '"restart_sec": "abc"' "$tmp/etc/sdloopd.json" | cut -d: -f1)
if manager Reload 2>"$tmp/reload.err"; then
        fail "Reload accepted a bad configuration"
fi
grep -qF "$tmp/etc/sdloopd.json:$line:40: plugins.example.restart_sec: expected a number of seconds, got \"abc\"" \
        "$tmp/reload.err" || { cat "$tmp/reload.err"; fail "Reload error does not name file:line:column and field"; }
[ "$(prop example MainPID)" = "$pid_before" ] && state_is example running || fail "the running plugin was touched"
ok "Reload with a bad file is refused with file:line:column and field; the running configuration stays"

if $have_feed; then
        # n < 3f+1: refused, and the feed runs on as it was.
        write_config 0.1 3
        line=$(grep -n '"n": 3,' "$tmp/etc/sdloopd.json" | cut -d: -f1)
        col=$(awk -v l="$line" 'NR == l { print index($0, "\"n\": 3") + 5 }' "$tmp/etc/sdloopd.json")
        pids="$(prop ledger MainPID) $(prop median MainPID)"
        before=$(reports)
        if manager Reload 2>"$tmp/reload.err"; then fail "Reload accepted a feed with n < 3f+1"; fi
        grep -qF "$tmp/etc/sdloopd.json:$line:$col: feeds.eth-usd.n: must be at least 3f+1 = 4 (f = 1)" "$tmp/reload.err" \
                || { cat "$tmp/reload.err"; fail "bad feed: Reload error does not name file:line:column and field"; }
        wait_for 20 reports_at_least $((before + 3)) || fail "the feed stopped after a refused Reload"
        [ "$(prop ledger MainPID) $(prop median MainPID)" = "$pids" ] || fail "the feed's plugins were touched"
        ok "Reload with a bad feed (n < 3f+1) is refused with file:line:column; the running feed goes on"
fi

# Unknown keys are errors too, in drop-ins as well.
write_config 0.1
cat >"$tmp/etc/plugins.d/10-typo.json" <<EOF
{
        "plugins": {
                "extra": { "kind": "example", "binary": "$SDLOOP_EXAMPLE_PLUGIN", "restart_secs": 1 }
        }
}
EOF
col=$(awk 'NR == 3 { print index($0, "\"restart_secs\"") }' "$tmp/etc/plugins.d/10-typo.json")
if manager Reload 2>"$tmp/reload.err"; then fail "Reload accepted an unknown key"; fi
grep -qF "$tmp/etc/plugins.d/10-typo.json:3:$col: plugins.extra.restart_secs: unknown key" "$tmp/reload.err" \
        || { cat "$tmp/reload.err"; fail "unknown key error"; }
ok "an unknown key in a drop-in is refused"

# --- Reload with a good configuration: added plugins start, removed ones stop ---------------------------------
cat >"$tmp/etc/plugins.d/10-typo.json" <<EOF
{ "plugins": { "extra": { "kind": "example", "binary": "$SDLOOP_EXAMPLE_PLUGIN" } } }
EOF
before=$($have_feed && reports || echo 0)
manager Reload || fail "Reload of a good configuration"
wait_for 20 state_is extra running || fail "the added plugin does not run"
[ "$(prop example MainPID)" = "$pid_before" ] || fail "an unchanged plugin was restarted"
if $have_feed; then
        # The same feed, not a new one: its count of reports goes on.
        wait_for 20 reports_at_least $((before + 2)) || fail "the unchanged feed does not go on after Reload"
fi
ok "Reload starts an added plugin and leaves unchanged ones alone"

extra_pid=$(prop extra MainPID)
rm "$tmp/etc/plugins.d/10-typo.json"
manager Reload || fail "Reload after removing a plugin"
! bus get-property org.sdloop1 /org/sdloop1/plugin/extra org.sdloop1.PluginInstance State 2>/dev/null \
        || fail "the removed plugin is still on the bus"
wait_for 10 sh -c "! kill -0 $extra_pid" || fail "the removed plugin's process is still there"
ok "Reload stops a removed plugin"

if $have_feed; then
        # A changed feed is made anew (its count of this run starts again; the ledger's goes on), on the
        # plugins as they are.
        pids="$(prop ledger MainPID) $(prop median MainPID)"
        before=$(run_reports)
        ledger_before=$(reports)
        write_config 0.1 4 0.1
        manager Reload || fail "Reload of a changed feed"
        [ "$(run_reports)" -lt "$before" ] || fail "the changed feed was not made anew ($before → $(run_reports) reports)"
        wait_for 20 reports_at_least $((ledger_before + 3)) || fail "the changed feed does not transmit"
        [ "$(prop ledger MainPID) $(prop median MainPID)" = "$pids" ] || fail "a changed feed restarted its plugins"
        ok "Reload makes a changed feed anew and leaves its plugins alone"
fi

# --- Stop and Start -------------------------------------------------------------------------------------------
pid=$(prop example MainPID)
manager StopPlugin s example || fail "StopPlugin"
state_is example stopped || fail "state after StopPlugin: $(prop example State)"
[ "$(prop example MainPID)" = 0 ] || fail "MainPID after StopPlugin"
wait_for 10 sh -c "! kill -0 $pid" || fail "the process survived StopPlugin"
[ ! -e "$tmp/run/plugin/example.sock" ] || fail "the socket survived StopPlugin"
manager StartPlugin s example || fail "StartPlugin"
state_is example running || fail "state after StartPlugin: $(prop example State)"
ok "StopPlugin stops the process, StartPlugin brings it back"

manager RestartPlugin s example || fail "RestartPlugin"
wait_for 20 state_is example running || fail "state after RestartPlugin"
ok "RestartPlugin"

if $have_feed; then
        manager StopPlugin s median || fail "StopPlugin median"
        feed_state_is stopped || fail "the feed runs on without its median plugin: $(feed_state)"
        before=$(reports)
        manager StartPlugin s median || fail "StartPlugin median"
        wait_for 20 reports_at_least $((before + 2)) || fail "the feed did not come back with its plugin"
        ok "StopPlugin stops the feeds on the plugin, StartPlugin brings them back"
fi

if manager StartPlugin s nosuchplugin 2>"$tmp/err"; then fail "StartPlugin of an unknown plugin"; fi
grep -q 'no plugin named' "$tmp/err" || { cat "$tmp/err"; fail "NotFound message"; }
if ! $have_feed; then
        manager ListFeeds | grep -q '^a(ssuytts) 0$' || fail "ListFeeds"
fi
ok "unknown names are NotFound"

# --- SIGTERM: everything stops ---------------------------------------------------------------------------------
children=$(plugin_pids | tr '\n' ' ')
[ -n "$children" ] || fail "no plugin processes before SIGTERM"
kill -TERM "$sdloopd_pid"
rc=0
wait "$sdloopd_pid" || rc=$?
sdloopd_pid=
[ $rc -eq 0 ] || fail "sdloopd exited with $rc"
for pid in $children; do
        ! kill -0 "$pid" 2>/dev/null || fail "plugin process $pid survived sdloopd"
done
! bus status org.sdloop1 >/dev/null 2>&1 || fail "org.sdloop1 is still on the bus"
ok "SIGTERM stops sdloopd and its plugins (exit 0, no process left)"

if [ -n "$notify_pid" ]; then
        grep -q '^READY=1$' "$tmp/notify.log" || { cat "$tmp/notify.log"; fail "no READY=1"; }
        grep -q '^STATUS=[0-9]* plugins: [0-9]* running' "$tmp/notify.log" || { cat "$tmp/notify.log"; fail "no STATUS="; }
        grep -q '^WATCHDOG=1$' "$tmp/notify.log" || { cat "$tmp/notify.log"; fail "the watchdog was not fed"; }
        grep -q '^RELOADING=1$' "$tmp/notify.log" || { cat "$tmp/notify.log"; fail "no RELOADING=1"; }
        grep -q '^STOPPING=1$' "$tmp/notify.log" || { cat "$tmp/notify.log"; fail "no STOPPING=1"; }
        ok "sd_notify: READY=1, STATUS=, WATCHDOG=1, RELOADING=1, STOPPING=1"
fi

echo "$passed passed, 0 failed"
