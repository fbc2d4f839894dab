#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make demo: sdloopd runs one median feed — a relayer plugin keeping a ledger, a median plugin, four
# simulated oracles reading a deterministic random walk — prints every round as it is transmitted, kills
# the relayer plugin with SIGKILL half-way to show that the feed goes on, and ends with a summary checked
# against the ledger itself. Everything runs from the build tree (./tools/demo.sh [BUILD_DIR]) and is
# configured in a fresh temporary directory; it finishes by itself in well under a minute.
#
# How the plugins run depends on the machine:
#   - systemd is PID 1, as root: the system backend — each plugin is a transient socket + service unit
#     of PID 1 (sdloop-demo-*.socket/.service), restarted by systemd behind its socket;
#   - systemd is PID 1, a user with a running user manager: the same with the user's manager;
#   - otherwise (containers, CI, a user without a login session): the exec backend — sdloopd binds the
#     sockets and fork/execs the plugins itself, with the same restart policy.
# In every case sdloopd serves org.sdloop1 on a private D-Bus bus of its own (started here, as the tests do)
# and runs as `sdloopd --user`: the system bus would need the D-Bus policy of the installed package, and an
# installed sdloopd may own org.sdloop1 there already. The demo never touches an installed sdloopd's
# configuration, bus name or units.
set -euo pipefail

build=${1:-build}
[ -d "$build" ] || { echo "demo: no build directory \"$build\" (run: make demo)" >&2; exit 1; }
build=$(cd "$build" && pwd)
sdloopd=$build/src/sdloopd/sdloopd
sdloopctl=$build/src/sdloopctl/sdloopctl
relayer_bin=$build/plugins/relayer-ledger/sdloop-relayer-ledger
median_bin=$build/plugins/median/sdloop-median
for f in "$sdloopd" "$sdloopctl" "$relayer_bin" "$median_bin"; do
        [ -x "$f" ] || { echo "demo: $f is not built (run: make demo)" >&2; exit 1; }
done
for tool in dbus-daemon python3; do
        command -v "$tool" >/dev/null || { echo "demo: $tool is missing (run: make demo)" >&2; exit 1; }
done

FEED=demo
RELAYER=demo-ledger
MEDIAN=demo-median
REPORTS_BEFORE_KILL=5
REPORTS_WANTED=15
ROUND_INTERVAL=0.5
WATCH_SECONDS=40          # the rounds; setting up and the summary take a few seconds more

dir=$(mktemp -d /tmp/sdloop-demo-XXXXXX)
mkdir -p "$dir/etc" "$dir/state" "$dir/run/plugin"
log=$dir/sdloopd.log
ledger=$dir/state/$FEED-ledger.sqlite
dbus_pid= sdloopd_pid= children= scope=

# --- how the plugins run -------------------------------------------------------------------------------------
if [ -d /run/systemd/system ] && [ "$(id -u)" = 0 ]; then
        backend=system scope=--system
        why="systemd is PID 1 and we are root: each plugin is a transient unit of PID 1"
elif [ -d /run/systemd/system ] && [ -S "${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/systemd/private" ]; then
        backend=user scope=--user
        export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/run/user/$(id -u)}
        why="systemd is PID 1: each plugin is a transient unit of your user manager"
else
        backend=exec
        if [ -d /run/systemd/system ]; then
                why="no user manager for $(id -un) (no login session): sdloopd runs the plugins itself"
        else
                why="systemd is not PID 1 here: sdloopd runs the plugins itself"
        fi
        # Nothing of the caller's session is needed: keep everything in the demo's directory.
        export XDG_RUNTIME_DIR=$dir/run
fi
journald=false
[ -S /run/systemd/journal/socket ] && journald=true

units() { for p in "$RELAYER" "$MEDIAN"; do echo "sdloop-$p.socket" "sdloop-$p.service"; done; }

cleanup() {
        local rc=$?
        trap - EXIT INT TERM
        if [ -n "$sdloopd_pid" ] && kill -0 "$sdloopd_pid" 2>/dev/null; then
                children=$(pgrep -P "$sdloopd_pid" 2>/dev/null || :)
                kill -TERM "$sdloopd_pid" 2>/dev/null || :
                for _ in $(seq 50); do kill -0 "$sdloopd_pid" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$sdloopd_pid" 2>/dev/null || :
        fi
        for pid in $children; do kill -KILL "$pid" 2>/dev/null || :; done
        # With a systemd backend, plugin units outlive sdloopd by design (the next one adopts them).
        [ -n "$scope" ] && systemctl "$scope" stop $(units) >/dev/null 2>&1 || :
        [ -n "$dbus_pid" ] && kill "$dbus_pid" 2>/dev/null || :
        wait 2>/dev/null || :
        rm -rf "$dir/run"
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Units left by an interrupted demo would be adopted with their old settings.
[ -n "$scope" ] && { systemctl "$scope" stop $(units) >/dev/null 2>&1 || :; systemctl "$scope" reset-failed $(units) >/dev/null 2>&1 || :; }

# --- the configuration -----------------------------------------------------------------------------------------
# The system backend runs the plugins sandboxed (DynamicUser=, ProtectSystem=strict, ProtectHome=,
# PrivateTmp=), which would hide both the build tree (often below /home or /root) and the ledger in this
# temporary directory: the demo runs them without the sandbox. An installed package runs the installed
# binaries sandboxed, with the ledger in the plugin's StateDirectory=.
sandbox=true
[ "$backend" = system ] && sandbox=false
cat >"$dir/etc/sdloopd.json" <<EOF
{
        "backend": "$backend",
        "socket_directory": "$dir/run/plugin",
        "state_directory": "$dir/state",
        "defaults": { "restart": "always", "restart_sec": 0.1, "call_timeout_sec": 10, "sandbox": $sandbox },
        "plugins": {
                "$RELAYER": {
                        "kind": "relayer",
                        "binary": "$relayer_bin",
                        "relayer": { "config": { "chain_id": "demo-chain", "ledger": "$ledger" } }
                },
                "$MEDIAN": {
                        "kind": "median",
                        "binary": "$median_bin"
                }
        },
        "feeds": {
                "$FEED": {
                        "relayer": "$RELAYER",
                        "median": "$MEDIAN",
                        "n": 4,
                        "f": 1,
                        "onchain_config": { "min": "0", "max": "1000000000000000" },
                        "offchain_config": { "alpha_report_ppb": 0, "alpha_accept_ppb": 0, "delta_c_sec": 0 },
                        "round_interval_sec": $ROUND_INTERVAL,
                        "value": { "type": "random_walk", "start": "200000000000", "step_ppm": 2000, "seed": 1 },
                        "juels_per_fee_coin": { "type": "constant", "value": "1000000000000000000" }
                }
        }
}
EOF

echo "sdloop demo: one median feed on two LOOP plugins"
echo "  backend  $backend ($why)"
echo "  bus      a private D-Bus bus; sdloopd serves org.sdloop1 on it (sdloopd --user)"
echo "  plugins  $RELAYER (sdloop-relayer-ledger: the chain, a SQLite ledger), $MEDIAN (sdloop-median)"
echo "  feed     $FEED: 4 oracles (f = 1) observing a deterministic random walk from 2000.00000000,"
echo "           a round every $ROUND_INTERVAL s, every round reported; $RELAYER is killed after $REPORTS_BEFORE_KILL reports"
echo "  files    $dir"
echo

# --- a bus and sdloopd -------------------------------------------------------------------------------------------
dbus-daemon --session --nofork --print-address=3 3>"$dir/run/bus-address" 2>"$dir/run/dbus.log" &
dbus_pid=$!
for _ in $(seq 100); do [ -s "$dir/run/bus-address" ] && break; sleep 0.05; done
[ -s "$dir/run/bus-address" ] || { echo "demo: dbus-daemon did not start: $(cat "$dir/run/dbus.log")" >&2; exit 1; }
DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$dir/run/bus-address")
export DBUS_SESSION_BUS_ADDRESS

# sdloopd logs to a file the demo follows (and, with the exec backend, the plugins' output goes there too
# unless journald runs).
SDLOOP_LOG_TARGET=stderr "$sdloopd" --user --backend="$backend" --config "$dir/etc/sdloopd.json" 2>"$log" &
sdloopd_pid=$!
started=$(date +%s.%N)

# --- the rounds, as they are transmitted ---------------------------------------------------------------------------
python3 - "$log" "$sdloopd_pid" "$sdloopctl" "$FEED" "$RELAYER" "$REPORTS_BEFORE_KILL" "$REPORTS_WANTED" \
        "$WATCH_SECONDS" "$dir/run/watch.json" <<'PYEOF'
import json, os, re, signal, subprocess, sys, time

signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
log, sdloopd_pid, sdloopctl, feed, victim, kill_after, wanted, seconds, out = sys.argv[1:]
sdloopd_pid, kill_after, wanted, seconds = int(sdloopd_pid), int(kill_after), int(wanted), float(seconds)

f = re.escape(feed)
ours = re.compile(r"Feed " + f + r": epoch (\d+) round (\d+): answer (-?\d+) transmitted \(report (\d+) on the ledger\)")
unknown = re.compile(r"Feed " + f + r": epoch (\d+) round (\d+): transmitted \(report (\d+) on the ledger;")
detail = re.compile(r"Feed " + f + r": epoch (\d+) round (\d+): transmitted, answer \S+ \((\d+) observations, "
                    r"leader \d+, signed by oracles ([\d, ]+)\)")
outcome = re.compile(r"^<(\d)>sdloopd: Feed " + f + r": (?:epoch (\d+) round (\d+): )?(.*)$")
recovered = re.compile(r"Plugin " + re.escape(victim) + r": recovered in (\d+) µs")
ready = re.compile(r"Feed " + f + r": \d+ oracles \(f=\d+\) on ")

def price(a):
    v = int(a)
    s = "-" if v < 0 else ""
    v = abs(v)
    return "%s%d.%08d" % (s, v // 10**8, v % 10**8)

def say(msg):
    print(msg, flush=True)

def main_pid(name):
    try:
        j = json.loads(subprocess.run([sdloopctl, "--user", "status", "--json=short", name], capture_output=True,
                                      text=True, timeout=10).stdout)
        return int((j[0] if isinstance(j, list) else j)["main_pid"])
    except Exception:
        return 0

st = {"reports": 0, "rounds": [], "failed": 0, "transmitted": [], "killed_pid": 0, "kill_time": 0.0,
      "recovery_usec": None, "next_report_after_kill": None, "sdloopd_exited": False}
pending = None      # our line, waiting for the feed's own line with the details
rounds = set()
kill_due = False    # once the round that makes kill_after reports is shown

def kill_victim():
    global kill_due
    kill_due = False
    pid = main_pid(victim)
    if pid > 0:
        os.kill(pid, signal.SIGKILL)
        st["killed_pid"], st["kill_time"] = pid, time.monotonic()
        say("  >> kill -9 %s (pid %d): the relayer plugin, which holds the ledger" % (victim, pid))
    else:
        say("  >> cannot find %s's process; not killing it" % victim)

def show(p, observations=None, signers=None):
    e, r, answer, n = p
    extra = ""
    if observations:
        who = [s.strip() for s in signers.split(",")]
        extra = "   %s observations, signed by oracles %s" % (observations, " and ".join(who))
    say("  epoch %s round %3s   answer %s%s" % (e, r, price(answer), extra))

deadline = time.monotonic() + seconds
buf = ""
with open(log, encoding="utf-8", errors="replace") as fh:
    while True:
        chunk = fh.read()
        if not chunk:
            if pending:
                show(pending)
                pending = None
            if kill_due:
                kill_victim()
            done = st["reports"] >= wanted and (st["killed_pid"] == 0 or st["recovery_usec"] is not None)
            if done or time.monotonic() > deadline:
                break
            try:
                os.kill(sdloopd_pid, 0)
            except OSError:
                st["sdloopd_exited"] = True
                break
            time.sleep(0.05)
            continue
        buf += chunk
        *lines, buf = buf.split("\n")
        for line in lines:
            if ready.search(line):
                say("  (the feed is set up: keys made, the contract configured on the ledger)")
            m = ours.search(line) or unknown.search(line)
            if m:
                if pending:
                    show(pending)
                g = m.groups()
                pending = (g[0], g[1], g[2], g[3]) if len(g) == 4 else None
                st["reports"] += 1
                st["transmitted"].append([int(g[0]), int(g[1]), g[2] if len(g) == 4 else None])
                if st["kill_time"] and st["next_report_after_kill"] is None:
                    st["next_report_after_kill"] = time.monotonic() - st["kill_time"]
                if len(g) != 4:
                    say("  epoch %s round %3s   transmitted (the ledger's answer could not be read back)" % g[:2])
                if st["reports"] == kill_after and not st["killed_pid"]:
                    kill_due = True
                continue
            m = detail.search(line)
            if m:
                rounds.add((m.group(1), m.group(2)))
                if pending and pending[:2] == (m.group(1), m.group(2)):
                    show(pending, m.group(3), m.group(4))
                    pending = None
                    if kill_due:
                        kill_victim()
                continue
            m = recovered.search(line)
            if m:
                st["recovery_usec"] = int(m.group(1))
                say("  >> %s is back: recovered in %.1f ms (sdloopd's measure: from the lost connection to the"
                    " relayer and the provider re-created on the new process)" % (victim, int(m.group(1)) / 1000))
                continue
            m = outcome.search(line)
            if m and m.group(2):
                level, e, r, rest = int(m.group(1)), m.group(2), m.group(3), m.group(4)
                rounds.add((e, r))
                if level <= 4 and rest.startswith(("oracle ", "transmitting again")):
                    say("  epoch %s round %3s   note: %s" % (e, r, rest))
                elif level <= 4:
                    st["failed"] += 1
                    say("  epoch %s round %3s   failed: %s" % (e, r, rest))
                elif rest.startswith(("no report", "not transmitted")):
                    say("  epoch %s round %3s   %s" % (e, r, rest))
            elif m and int(m.group(1)) <= 4:
                say("  (%s)" % m.group(4))

st["rounds"] = len(rounds)
with open(out, "w") as o:
    json.dump(st, o)
PYEOF

stopped_watching=$(date +%s.%N)
watch=$dir/run/watch.json
[ -s "$watch" ] || { echo "demo: the watcher failed" >&2; exit 1; }
if ! kill -0 "$sdloopd_pid" 2>/dev/null; then
        echo "demo: sdloopd exited; its log:" >&2
        tail -n 30 "$log" >&2
        exit 1
fi

echo
echo "\$ sdloopctl --user feeds"
"$sdloopctl" --user feeds || :
"$sdloopctl" --user feeds --json=short >"$dir/run/feeds.json" 2>/dev/null || echo '[]' >"$dir/run/feeds.json"
"$sdloopctl" --user list --json=short >"$dir/run/plugins.json" 2>/dev/null || echo '[]' >"$dir/run/plugins.json"

# --- stop: the plugins (their units, with a systemd backend), then sdloopd --------------------------------------------
"$sdloopctl" --user stop "$MEDIAN" "$RELAYER" >/dev/null 2>&1 || :
children=$(pgrep -P "$sdloopd_pid" 2>/dev/null || :)
kill -TERM "$sdloopd_pid"
for _ in $(seq 100); do kill -0 "$sdloopd_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$sdloopd_pid" 2>/dev/null; then
        echo "demo: sdloopd did not stop within 10 s" >&2
        exit 1
fi
wait "$sdloopd_pid" 2>/dev/null || :
sdloopd_pid=

# --- the summary, checked against the ledger -----------------------------------------------------------------------
if $journald && [ "$backend" != exec ]; then
        journal="sdloopd: $log; the plugins: journalctl $([ "$scope" = --user ] && echo "--user ")-u 'sdloop-demo-*'"
elif $journald; then
        journal="sdloopd: $log; the plugins: journalctl SDLOOP_PLUGIN=$RELAYER (SDLOOP_PLUGIN=$MEDIAN)"
else
        journal="$log (sdloopd and the plugins: no journald on this machine)"
fi
python3 - "$watch" "$dir/run/feeds.json" "$dir/run/plugins.json" "$ledger" "$FEED" "$journal" "$started" \
        "$stopped_watching" <<'PYEOF'
import json, sqlite3, sys

watch, feeds, plugins, ledger, feed, journal, started, stopped = sys.argv[1:]
st = json.load(open(watch))
feeds = {x["name"]: x for x in json.load(open(feeds))}
plugins = json.load(open(plugins))
ok = True

rows = []
try:
    db = sqlite3.connect("file:%s?mode=ro" % ledger, uri=True)
    rows = db.execute("SELECT epoch, round, answer, block FROM transmissions WHERE contract_id = ? "
                      "ORDER BY block", (feed,)).fetchall()
    db.close()
except sqlite3.Error as e:
    print("demo: cannot read the ledger %s: %s" % (ledger, e), file=sys.stderr)
    ok = False
on_ledger = {(e, r): a for e, r, a, _ in rows}
missing = [t for t in st["transmitted"] if (t[0], t[1]) not in on_ledger
           or (t[2] is not None and on_ledger[(t[0], t[1])] != t[2])]

reports = st["reports"]
listed = feeds.get(feed, {}).get("reports_transmitted")
print()
print("Summary")
print("  rounds    %d run in %.1f s: %d reports transmitted%s, %d failed" % (
    st["rounds"], float(stopped) - float(started), reports,
    "" if listed is None else " (sdloopctl feeds says %d)" % listed, st["failed"]))
print("  restarts  %s" % ", ".join("%s %d" % (p["name"], p["n_restarts"]) for p in plugins))
if st["killed_pid"]:
    rec = "%.1f ms" % (st["recovery_usec"] / 1000) if st["recovery_usec"] is not None else "not seen"
    nxt = ("; the next report came %.2f s after the kill" % st["next_report_after_kill"]
           if st["next_report_after_kill"] is not None else "")
    print("  recovery  %s (pid %d killed with SIGKILL, measured by sdloopd)%s" % (rec, st["killed_pid"], nxt))
if rows:
    print("  ledger    %s: %d transmissions of contract %s, blocks %d-%d, epoch %d round %d to epoch %d round %d" % (
        ledger, len(rows), feed, rows[0][3], rows[-1][3], rows[0][0], rows[0][1], rows[-1][0], rows[-1][1]))
    if missing:
        print("            MISSING from the ledger: %s" % ", ".join("epoch %d round %d" % (e, r) for e, r, _ in missing))
    else:
        print("            every report printed above is there, with the same answer (read-only, with sqlite3)")
else:
    print("  ledger    %s: no transmissions" % ledger)
print("  logs      %s" % journal)
print("  look      sqlite3 -readonly %s 'SELECT epoch, round, answer FROM transmissions'" % ledger)

if reports == 0:
    print("demo: no report was transmitted", file=sys.stderr)
    ok = False
if missing or not rows:
    ok = False
if st["killed_pid"] and st["recovery_usec"] is None:
    print("demo: %s did not recover" % "the killed plugin", file=sys.stderr)
    ok = False
sys.exit(0 if ok else 1)
PYEOF
