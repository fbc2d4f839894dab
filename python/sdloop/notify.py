# SPDX-License-Identifier: LGPL-2.1-or-later
"""sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET."""

import os
import socket


FULL = "full"
WAIT_SEC = 5.0           # READY=1: a Type=notify start waits for it
STOPPING_WAIT_SEC = 0.5  # STOPPING=1 only informs; it must not eat into the unit's stop timeout


def notify(state, wait=False):
    """Send state ("READY=1", "WATCHDOG=1", "STATUS=…") to the service manager: True when sent, False if
    there is none, FULL when its queue is full and wait is False (from inside the main loop, which must not
    wait for a receiver that does not read; the C runtime does the same, src/libsdloop/plugin-notify.c), or
    when the wait went by (wait: True for WAIT_SEC, or a number of seconds)."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            # From top level (READY=1, STOPPING=1) a while, then give up rather than hang a start or an end.
            s.settimeout((WAIT_SEC if wait is True else float(wait)) if wait else 0)
            s.connect(path)
            s.sendall(state.encode("utf-8"))
    except (BlockingIOError, TimeoutError, socket.timeout):
        return FULL
    except OSError:
        return False
    return True


def watchdog_interval_usec():
    """$WATCHDOG_USEC when it is meant for this process, else 0."""
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return 0
    try:
        return max(int(os.environ.get("WATCHDOG_USEC", "0")), 0)
    except ValueError:
        return 0
