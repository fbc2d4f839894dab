#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Inside the booted container (tests/nspawn/run.sh), as root: sdloopd (unit sdloopd.service, system
# backend) runs the example feed every 0.2 s on the relayer-ledger and the median plugin; both plugins are
# killed with SIGKILL together, several times. From sdloopd's journal, in log order: both connections were
# lost before either plugin had recovered (the two recoveries ran side by side), and nothing waited out a
# call timeout. From sdloopctl feeds --json: the feed went on. From the ledger's own sqlite file: every
# transmission once, in order, as many as the feed counted, and every round skipped in it explained by a
# failed round in sdloopd's journal, none of them for a timeout.
#
#   test-two-kill.sh SDLOOPD RELAYER_LEDGER MEDIAN_PLUGIN DBUS_POLICY SDLOOPCTL

set -u

sdloopd=$1 ledger=$2 median=$3 policy=$4 sdloopctl=$5
cfg=/tmp/sdloop-etc
kills=${SDLOOP_TWO_KILL_ROUNDS:-4}
chain=two-kill-1
db=/var/lib/sdloop-ledger/$chain.sqlite
. "$(dirname "$0")/lib.sh"

dump() {
        echo "=== units ==="
        systemctl list-units --all --no-pager 'sdloop*' || :
        echo "=== sdloopd ==="
        journalctl --no-pager -o short-monotonic -n 150 -u sdloopd.service || :
}

journal() { journalctl --no-pager -o cat -u sdloopd.service "$@"; }

echo "$(systemctl --version | head -n 1); system: $(systemctl is-system-running 2>/dev/null || true)"

install_bus_policy "$policy"

mkdir -p "$cfg"
write_feed_config "$cfg/sdloopd.json" "$chain" "$ledger" "$median" 0.2

systemd-run --quiet --unit=sdloopd -p Type=notify -p NotifyAccess=main -p WatchdogSec=20s \
        -E SDLOOP_LOG_LEVEL=debug "$sdloopd" --system --backend=system --config "$cfg/sdloopd.json" \
        || fail "sdloopd did not start"
wait_for 30 state_is ledger running || fail "ledger is $(prop ledger State)"
wait_for 30 state_is median running || fail "median is $(prop median State)"
wait_for 30 reports_at_least 3 || fail "the feed did not transmit 3 reports ($(feeds_json))"
ok "sdloopd runs the feed on the ledger and the median plugin ($(reports) reports)"

# --- kill -9 of both, together -------------------------------------------------------------------------
i=0
while [ $i -lt "$kills" ]; do
        i=$((i + 1))
        cursor=$(journalctl -u sdloopd.service -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p')
        lp=$(prop ledger MainPID) mp=$(prop median MainPID)
        before=$(reports)
        kill -KILL "$lp" "$mp" || fail "kill $lp $mp"
        wait_for 30 pid_changed ledger "$lp" || fail "round $i: the ledger did not come back"
        wait_for 30 pid_changed median "$mp" || fail "round $i: the median plugin did not come back"
        wait_for 30 state_is ledger running || fail "round $i: ledger is $(prop ledger State)"
        wait_for 30 state_is median running || fail "round $i: median is $(prop median State)"
        # The feed goes on: two more reports after both are back.
        wait_for 30 reports_at_least $((before + 2)) || fail "round $i: reports stuck at $(reports) (were $before)"

        journal --after-cursor="$cursor" >/tmp/kill-$i.log
        # In log order: both losses, then the recoveries — neither waited for the other to be back.
        /usr/bin/python3 - /tmp/kill-$i.log <<'PY' || fail "round $i: recoveries not side by side:
$(grep -E 'connection lost|recovered in' /tmp/kill-$i.log)"
import re, sys
lines = open(sys.argv[1], errors="replace").read().splitlines()
lost = {n: min((k for k, l in enumerate(lines) if re.match(r"Plugin %s: connection lost" % n, l)), default=None)
        for n in ("ledger", "median")}
rec = {n: min((k for k, l in enumerate(lines) if re.match(r"Plugin %s: recovered in \d+ µs" % n, l)), default=None)
       for n in ("ledger", "median")}
assert all(v is not None for v in lost.values()), lost
assert all(v is not None for v in rec.values()), rec
assert max(lost.values()) < min(rec.values()), (lost, rec)
PY
        if grep -E 'no reply to .* in time|org\.sdloop1\.Error\.Timeout|[Tt]imed? ?out' /tmp/kill-$i.log; then
                fail "round $i: something waited for a call timeout"
        fi
        ok "round $i: kill -9 of ledger ($lp) and median ($mp) together: $(grep -oE '^Plugin (ledger|median): recovered in [0-9]+ µs' /tmp/kill-$i.log | sed 's/^Plugin //' | tr '\n' ';') reports $before → $(reports)"
done

# The feed's own counters. Per-reason failure counters, when sdloopctl feeds --json has them: no round
# may have failed for a timeout.
feeds_json >/tmp/feeds.json
/usr/bin/python3 - /tmp/feeds.json <<'PY' || fail "sdloopctl feeds --json: $(cat /tmp/feeds.json)"
import json, sys
f = json.load(open(sys.argv[1]))[0]
assert f["state"] == "running", f
assert f["reports_transmitted"] > 0, f
def timeouts(o, path=""):
    if isinstance(o, dict):
        for k, v in o.items():
            yield from timeouts(v, path + "." + k)
    elif isinstance(o, (int, float)) and "timeout" in path.lower() and "fail" in path.lower():
        yield path, o
bad = [(p, v) for p, v in timeouts(f) if v]
assert not bad, bad
PY
ok "the feed is running, $(reports) reports transmitted, no round failed for a timeout"

# --- the ledger's record ---------------------------------------------------------------------------------
systemctl stop sdloopd.service   # the plugins stay; nothing transmits any more
journal >/tmp/sdloopd-all.log
[ -e "$db" ] || fail "no ledger at $db"
sqlite3 -readonly -separator ' ' "file:$db?mode=ro" \
        'SELECT epoch, round FROM transmissions ORDER BY id' >/tmp/transmissions || fail "sqlite3 $db"
/usr/bin/python3 - /tmp/transmissions /tmp/sdloopd-all.log <<'PY' || fail "the ledger's transmissions"
import re, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
log = open(sys.argv[2], errors="replace").read()
assert len(rows) == len(set(rows)), "a transmission twice"
assert rows == sorted(rows), "transmissions out of order"
# Every transmission the feed logged (read once sdloopd is stopped, so none can come after) is in the ledger,
# and no other.
logged = sorted({(int(e), int(r)) for e, r in
                 re.findall(r"Feed eth-usd: epoch (\d+) round (\d+): transmitted", log)})
assert rows == logged, ("ledger and feed differ", sorted(set(rows) ^ set(logged)))
failed = {(int(e), int(r)): why for e, r, why in re.findall(r"Feed eth-usd: epoch (\d+) round (\d+): (.*)", log)}
def after(e, r):
    return (e + 1, 1) if r >= 255 else (e, r + 1)
gaps = []
for a, b in zip(rows, rows[1:]):
    x = after(*a)
    while x < b:
        gaps.append(x)
        x = after(*x)
unexplained = [g for g in gaps if g not in failed]
assert not unexplained, ("rounds missing from the ledger with no failed round logged", unexplained)
timeouts = {g: failed[g] for g in gaps if re.search(r"in time|Timeout|timed out", failed[g])}
assert not timeouts, ("rounds failed for a timeout", timeouts)
print("%d transmissions, %d rounds skipped, each a failed round logged: %s" %
      (len(rows), len(gaps), "; ".join("%d/%d %s" % (g[0], g[1], failed[g][:80]) for g in gaps) or "none"))
PY
ok "the ledger has each transmission once, in order, the ones the feed logged; gaps only where a round failed (not for a timeout)"

echo "$passed passed, 0 failed"
