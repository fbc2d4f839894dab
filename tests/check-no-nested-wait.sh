#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Nothing in libsdloop, the plugins, the host (src/host), the feed (src/feed) or sdloopd may wait inside an
# event-loop callback. The run-time check
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
src/host/host.c:sd_event_run
src/host/host.c:sd_event_loop'

rc=0
for f in $(find src/libsdloop src/host src/feed src/sdloopd plugins -name '*.c' | sort); do
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
# A whole file hashed in one call holds the loop for as long as reading it takes: the host hashes a pinned
# binary a piece per iteration (host-integrity.c); sha256_file() is for tools.
for f in $(find src/libsdloop src/host src/feed src/sdloopd plugins -name '*.c' | sort); do
        if grep -n "\\bsha256_file *(" "$f" >&2; then
                echo "check-no-nested-wait: $f hashes a whole file in one call; use host_plugin_check_binary_async()" >&2
                rc=1
        fi
done
# Plugins answer from the loop; the synchronous client calls are for top-level code.
for f in $(find plugins -name '*.c' | sort); do
        if grep -n "sdloop_peer_call(\|sdloop_peer_call_method(\|sdloop_peer_wait_for(" "$f" >&2; then
                echo "check-no-nested-wait: $f makes a synchronous call" >&2
                rc=1
        fi
done
# The feed is a state machine throughout: no synchronous client call, none of the host's waiting helpers
# (host_handle_call(), host_handle_new(), host_plugin_start()…, host_run_until()).
for f in $(find src/feed -name '*.c' -o -name '*.h' | sort); do
        if grep -nE "sdloop_peer_call\(|sdloop_peer_call_method\(|sdloop_peer_wait_for\(|host_handle_call\(|host_handle_new\(|host_plugin_(start|restart|ensure)\(|host_run_until\(" "$f" >&2; then
                echo "check-no-nested-wait: $f waits or queues top-level work; use the asynchronous forms" >&2
                rc=1
        fi
        # A synchronous generated client call: sdloop_<service>_<method>(… without _async.
        if grep -nE "\bsdloop_(reporting_plugin|contract_config_tracker|contract_transmitter|median_contract|ledger|relayer|plugin_median|plugin_relayer|reporting_plugin_factory|service|report_codec|offchain_config_digester|onchain_config_codec)_[a-z_]+\(" "$f" | grep -v "_async(" >&2; then
                echo "check-no-nested-wait: $f makes a synchronous client call" >&2
                rc=1
        fi
done
# The host's synchronous helpers run the loop nested (host_run_until()): top-level code only. sdloopd is a set
# of state machines over the asynchronous forms and calls none of them; in src/host they are used only where
# they are defined.
sync_helpers='host_run_until|host_plugin_stop_wait|host_backend_reattach|host_plugin_start|host_plugin_restart|host_plugin_ensure|host_handle_new|host_handle_call|sdloop_peer_call|sdloop_peer_call_method|sdloop_peer_wait_for|sdloop_peer_handshake'
sync_allowed='src/host/host.c
src/host/host-plugin.c
src/host/host-handle.c
src/host/host-call.c
src/host/backend.c'
for f in $(find src/host src/sdloopd -name '*.c' | sort); do
        # Calls, not mentions in comments: a name followed by "(" on a line that is not a comment.
        hits=$(grep -nE "\b($sync_helpers) *\(" "$f" | grep -vE '^[0-9]+: *(/?\*|//)' || :)
        [ -n "$hits" ] || continue
        if printf '%s\n' "$sync_allowed" | grep -qx "$f"; then
                continue
        fi
        printf '%s\n' "$hits" | sed "s|^|$f:|" >&2
        echo "check-no-nested-wait: $f calls a synchronous host helper, which runs the loop nested; use the asynchronous form" >&2
        rc=1
done
[ $rc = 0 ] && echo "check-no-nested-wait: no waiting call in src/libsdloop, src/host, src/feed, src/sdloopd or plugins"
exit $rc
