# SPDX-License-Identifier: LGPL-2.1-or-later
"""sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET."""

import os
import socket


def notify(state):
    """Send state ("READY=1", "WATCHDOG=1", "STATUS=…") to the service manager; False if there is none."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(path)
            s.sendall(state.encode("utf-8"))
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
