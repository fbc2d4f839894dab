#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Nothing in libsdloop, the plugins, the host (src/host) or sdloopd may wait inside an event-loop callback. The run-time check
# (SDLOOP_ABORT_ON_NESTED_WAIT=1, set for every test) catches a synchronous client call made from a
# callback; this one catches the raw forms that bypass it: sd_event_run()/sd_event_loop() or a blocking
# sd_bus_call() outside the two places that run the loop at top level.
# usage: check-no-nested-wait.sh SOURCE_ROOT
set -eu

root=${1:?usage: check-no-nested-wait.sh SOURCE_ROOT}
cd "$root"

# file:pattern pairs that are allowed: the synchronous client (top level only, refuses inside callbacks),
# the plugin runtime's main loop, and the host's main loop with its top-level wait (host_run(),
# host_run_until(), which refuses inside callbacks). The systemd backends call the service manager
# asynchronously too.
allowed='src/libsdloop/client.c:sd_event_run
src/libsdloop/client.c:sd_bus_call
src/libsdloop/plugin.c:sd_event_loop
src/host/host.c:sd_event_run'

rc=0
for f in $(find src/libsdloop src/host src/sdloopd plugins -name '*.c' | sort); do
        for pat in sd_event_run sd_event_loop sd_bus_call sd_bus_call_method sd_bus_get_property sd_bus_wait; do
                grep -n "\\b$pat *(" "$f" >/dev/null 2>&1 || continue
                if printf '%s\n' "$allowed" | grep -qx "$f:$pat"; then
                        continue
                fi
                grep -n "\\b$pat *(" "$f" | sed "s|^|$f:|" >&2
                echo "check-no-nested-wait: $f calls $pat(), which waits; use the asynchronous forms" >&2
                rc=1
        done
done
# Plugins answer from the loop; the synchronous client calls are for top-level code.
for f in $(find plugins -name '*.c' | sort); do
        if grep -n "sdloop_peer_call(\|sdloop_peer_call_method(\|sdloop_peer_wait_for(" "$f" >&2; then
                echo "check-no-nested-wait: $f makes a synchronous call" >&2
                rc=1
        fi
done
[ $rc = 0 ] && echo "check-no-nested-wait: no waiting call in src/libsdloop, src/host, src/sdloopd or plugins"
exit $rc
