#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Inside the booted container (tests/nspawn/run.sh), as root: a pinned binary (binary_sha256) under the
# system backend is checked at every start of its unit, also at the restarts systemd makes on its own. Two
# plugins, each a pinned copy of the example plugin, sandboxed as dynamic users. Killed with SIGKILL, the one
# whose binary is as pinned is restarted by systemd and runs again; the other, whose binary was replaced on
# disk by another plugin's meanwhile, is refused by the unit's ExecStartPre=: the unit ends failed (systemctl
# --failed), its journal says why, and sdloopd shows the plugin failed with the mismatch in LastError.
#
#   test-binary-integrity.sh SDLOOPD EXAMPLE_PLUGIN OTHER_PLUGIN VERIFIER DBUS_POLICY SDLOOPCTL

set -u

sdloopd=$1 example=$2 other_plugin=$3 verifier=$4 policy=$5 sdloopctl=$6
cfg=/tmp/sdloop-etc
# Not under /tmp, /home or /root: the plugins' sandbox (PrivateTmp=, ProtectHome=) would hide them. The
# copies find libsdloop through the run paths relative to where they are ($ORIGIN/../src/libsdloop for the
# example plugin, $ORIGIN/../../src/libsdloop for the other): both lead to the build tree's, so that the
# other plugin would run, were it not refused.
bin=/opt/sdloop-pinned/plugins/bin
. "$(dirname "$0")/lib.sh"

dump() {
        echo "=== units ==="
        systemctl list-units --all --no-pager 'sdloop*' || :
        echo "=== journal ==="
        journalctl --no-pager -o short-monotonic -n 200 -u "sdloopd-*" -u "sdloop-*" || :
}

unit_prop() { systemctl show -P "$2" "sdloop-$1.service"; }
is_failed() { [ "$(systemctl is-failed "sdloop-$1.service")" = failed ]; }

install_bus_policy "$policy"

mkdir -p "$bin" "$cfg" /opt/sdloop-pinned/src /opt/sdloop-pinned/plugins/src
libsdloop=$(readlink -f "$(dirname "$(readlink -f "$example")")/../src/libsdloop")
ln -s "$libsdloop" /opt/sdloop-pinned/src/libsdloop
ln -s "$libsdloop" /opt/sdloop-pinned/plugins/src/libsdloop
cp "$example" "$bin/steady"
cp "$example" "$bin/swapped"
good=$(sha256sum "$bin/steady" | cut -d' ' -f1)
other=$(sha256sum "$other_plugin" | cut -d' ' -f1)
[ "$good" != "$other" ] || fail "the other plugin has the same hash"

cat >"$cfg/sdloopd.json" <<EOF
{
        "state_directory": "/var/lib/sdloop-integrity",
        "defaults": { "restart": "always", "restart_sec": 0.2, "start_limit_burst": 3,
                      "start_limit_interval_sec": 60, "dynamic_user": true },
        "plugins": {
                "steady": { "kind": "example", "binary": "$bin/steady", "binary_sha256": "$good" },
                "swapped": { "kind": "example", "binary": "$bin/swapped", "binary_sha256": "$good" }
        }
}
EOF

# sdloop-verify-binary from the build tree: where an installation has it, the libexec directory.
systemd-run --quiet --unit=sdloopd-integrity -p Type=notify -p NotifyAccess=main \
        -E SDLOOP_LOG_LEVEL=debug -E SDLOOP_LIBEXECDIR="$(dirname "$verifier")" \
        "$sdloopd" --system --backend=system --config "$cfg/sdloopd.json" || fail "sdloopd did not start"
wait_for 30 state_is steady running || fail "steady is $(prop steady State): $(prop steady LastError)"
wait_for 30 state_is swapped running || fail "swapped is $(prop swapped State): $(prop swapped LastError)"
unit_prop swapped ExecStartPre | grep -qF "path=$verifier ; argv[]=$verifier $bin/swapped $good ;" \
        || fail "ExecStartPre of sdloop-swapped.service: $(unit_prop swapped ExecStartPre)"
[ "$(unit_prop swapped DynamicUser)" = yes ] && [ "$(unit_prop swapped ProtectSystem)" = strict ] \
        || fail "the unit is not sandboxed"
ok "pinned plugins run as dynamic users under ProtectSystem=strict; their units check the binary in ExecStartPre="

# --- as pinned: systemd's own restart checks and runs it ---------------------------------------------------------
pid=$(prop steady MainPID)
restarts=$(unit_prop steady NRestarts)
kill -KILL "$pid"
wait_for 30 pid_changed steady "$pid" || fail "steady was not restarted (MainPID $(prop steady MainPID))"
wait_for 30 state_is steady running || fail "steady after kill -9: $(prop steady State): $(prop steady LastError)"
[ "$(unit_prop steady NRestarts)" -gt "$restarts" ] || fail "NRestarts of steady did not grow"
[ "$(unit_prop steady ActiveState)" = active ] || fail "sdloop-steady.service is $(unit_prop steady ActiveState)"
! journalctl --no-pager -o cat -u sdloop-steady.service | grep -q "does not match" || fail "steady was refused"
ok "kill -9 of a plugin whose binary is as pinned: systemd restarted it (its check passed) and it runs again"

# --- replaced on disk: the unit refuses it ------------------------------------------------------------------------
cp "$other_plugin" "$bin/swapped.new" && mv "$bin/swapped.new" "$bin/swapped"
pid=$(prop swapped MainPID)
kill -KILL "$pid"
wait_for 60 is_failed swapped || fail "sdloop-swapped.service is $(unit_prop swapped ActiveState)"
systemctl --failed --no-legend --plain | grep -q '^sdloop-swapped\.service ' \
        || { systemctl --failed --no-pager; fail "systemctl --failed does not list sdloop-swapped.service"; }
[ "$(unit_prop swapped MainPID)" = 0 ] || fail "a process runs: $(unit_prop swapped MainPID)"
journalctl --no-pager -o cat -u sdloop-swapped.service >/tmp/swapped.journal
# The other plugin never ran in its place: each start after the kill ended in ExecStartPre=, and only the
# first process said it was ready.
[ "$(grep -c 'ready (protocol' /tmp/swapped.journal)" = 1 ] || { cat /tmp/swapped.journal; fail "another process ran"; }
[ "$(grep -c 'sdloop-verify-binary: .*refusing to start it' /tmp/swapped.journal)" -ge 1 ] || fail "no refusal"
grep -qF "sdloop-verify-binary: binary $bin/swapped does not match binary_sha256: its SHA-256 is $other, pinned $good; refusing to start it" \
        /tmp/swapped.journal || { tail -n 20 /tmp/swapped.journal; fail "the unit's journal does not say why"; }
ok "kill -9 after the binary was replaced: the unit's ExecStartPre= refused it, the unit is failed and its journal says why"

mismatch="binary $bin/swapped does not match binary_sha256: its SHA-256 is $other, pinned $good"
wait_for 30 state_is swapped failed || fail "swapped is $(prop swapped State)"
wait_for 30 sh -c "busctl get-property org.sdloop1 /org/sdloop1/plugin/swapped org.sdloop1.PluginInstance LastError | grep -qF '$mismatch'" \
        || fail "LastError: $(prop swapped LastError)"
"$sdloopctl" status swapped >/tmp/status.out 2>&1 || :
grep -qF "$mismatch" /tmp/status.out || { cat /tmp/status.out; fail "sdloopctl status does not name the mismatch"; }
state_is steady running || fail "steady is $(prop steady State)"
echo "# LastError of swapped: $(prop swapped LastError)"
ok "sdloopd shows the plugin failed, LastError and sdloopctl status naming the mismatch; the other runs on"

systemctl stop sdloopd-integrity.service || fail "stopping sdloopd"
echo "$passed passed, 0 failed"
