#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sdloop-conformance as a plugin author runs it: it passes the static test plugin (with the fixtures), the
# C ledger relayer and the C median plugin, with bad input and recovery; and it fails, naming the check,
# a plugin of the wrong kind, one that answers a 31-byte digest and one whose method never answers.
#   usage: test-conformance-tool.sh SDLOOP-CONFORMANCE TEST-PLUGIN RELAYER-LEDGER MEDIAN
# Environment (meson): SDLOOP_DBUS_DIR, SDLOOP_CHECK_INTROSPECTION.
set -euo pipefail

tool=$1 test_plugin=$2 ledger=$3 median=$4
tmp=$(mktemp -d /tmp/sdloop-conformance-tool-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*"; exit 1; }

# run NAME EXPECTED-STATUS TOOL-ARGS...: the report in $tmp/NAME.tap, the plugin's output in NAME.log.
run() {
        local name=$1 expected=$2 status=0
        shift 2
        "$tool" --junit "$tmp/$name.xml" "$@" >"$tmp/$name.tap" 2>"$tmp/$name.log" || status=$?
        sed "s/^/[$name] /" "$tmp/$name.tap"
        if [ "$status" != "$expected" ]; then
                sed "s/^/[$name stderr] /" "$tmp/$name.log"
                fail "$name: exit status $status, expected $expected"
        fi
        # A plan, and the summary agrees with the lines.
        grep -q '^1\.\.[0-9][0-9]*$' "$tmp/$name.tap" || fail "$name: no TAP plan"
        local n_not_ok
        n_not_ok=$(grep -c '^not ok ' "$tmp/$name.tap" || true)
        grep -q ", $n_not_ok failed\$" "$tmp/$name.tap" || fail "$name: the summary does not count $n_not_ok failures"
        grep -q "failures=\"$n_not_ok\"" "$tmp/$name.xml" || fail "$name: the JUnit file does not count $n_not_ok failures"
}

# expect_not_ok NAME PATTERN: a failed check whose line or diagnostic matches PATTERN.
expect_not_ok() {
        grep -A3 '^not ok ' "$tmp/$1.tap" | grep -q -- "$2" || fail "$1: no failed check matching \"$2\""
}

# The static implementations, with their exact fixtures.
run static-relayer 0 --kind relayer --fixtures --bad-input --recovery -- "$test_plugin" --mode=relayer
run static-median 0 --kind median --fixtures --bad-input --recovery -- "$test_plugin" --mode=median
# Bad input was really sent and recovery really crashed the plugin.
grep -q '^ok [0-9]* - bad input: Transmit: 33-byte digest$' "$tmp/static-relayer.tap" || fail "no bad input run"
grep -q '^ok [0-9]* - recovery: the plugin crashed and was restarted$' "$tmp/static-median.tap" || fail "no crash"

# The real C plugins.
cat >"$tmp/relayer.json" <<JSON
{ "chain_id": "conformance", "ledger": "$tmp/ledger.sqlite",
  "nodes": [ { "name": "node-a", "config": "url = 'http://a'" } ],
  "balances": { "0xabcd": "1000000000000" }, "poll_interval_usec": 0 }
JSON
signer() { printf '%064x' "$1"; }
cat >"$tmp/relay.json" <<JSON
{ "config": { "signers": ["$(signer 1)", "$(signer 2)", "$(signer 3)", "$(signer 4)"],
              "transmitters": ["testtransmitter", "t1", "t2", "t3"], "f": 1,
              "onchain_config": { "min": "-1000", "max": "1000000" } } }
JSON
run ledger 0 --kind relayer --bad-input --recovery --relayer-config "$tmp/relayer.json" \
        --relay-config "$tmp/relay.json" -- "$ledger"
grep -q '^ok [0-9]* - ReportCodec.MedianFromReport(): the median of the observations$' "$tmp/ledger.tap" ||
        fail "ledger: the codec was not checked"
run median 0 --kind median --bad-input --recovery -- "$median"
grep -q '^ok [0-9]* - ReportingPlugin.Report(): reports the observed median' "$tmp/median.tap" ||
        fail "median: no report checked"

# Plugins that break the contract: each failure names its check.
run wrong-kind 1 --kind median -- "$test_plugin" --mode=relayer
expect_not_ok wrong-kind '^not ok [0-9]* - handshake: Kind$'
expect_not_ok wrong-kind 'expected "median", got "relayer"'
run short-digest 1 --kind relayer --fixtures -- "$test_plugin" --mode=relayer --break=short-digest
expect_not_ok short-digest 'ConfigDigest reply.digest: expected 32 bytes, got 31'
run hang 1 --kind relayer --fixtures --timeout 2 -- "$test_plugin" --mode=relayer --break=hang
expect_not_ok hang 'org.sdloop1.Error.Timeout: .*Relayer.GetChainStatus()'
# … and the plugin kept serving: the checks after the stuck call passed.
grep -q '^ok [0-9]* - SIGTERM: a clean exit (status 0)$' "$tmp/hang.tap" || fail "hang: no clean stop"

# Usage errors are status 2.
status=0
"$tool" -- "$test_plugin" >/dev/null 2>&1 || status=$?
[ "$status" = 2 ] || fail "no --kind: exit status $status, expected 2"

echo "sdloop-conformance: all cases as expected"
