# SPDX-License-Identifier: LGPL-2.1-or-later
"""Logging to the journal with SDLOOP_PLUGIN and the context fields, as libsdloop's log does.

The native journal protocol (one datagram of FIELD=value lines to /run/systemd/journal/socket) when
stderr already goes to the journal ($JOURNAL_STREAM) or is no terminal and journald listens; otherwise
"<priority>ident: message" lines on stderr. $SDLOOP_LOG_TARGET (journal, stderr, auto) and
$SDLOOP_LOG_LEVEL (a syslog level name or number) as for the C plugins.
"""

import logging
import os
import socket
import struct
import sys

JOURNAL_SOCKET = "/run/systemd/journal/socket"
CONTEXT_FIELDS = ("JOB_ID", "JOB_NAME", "CONTRACT_ID", "FEED_ID", "TRANSMITTER_ID")

_LEVELS = {"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}

_context = {}


def set_context(field, value):
    """A context field (JOB_ID, CONTRACT_ID, …) on every later log line; None clears it."""
    if field not in CONTEXT_FIELDS:
        raise ValueError(f"unknown log context field {field}")
    if value is None:
        _context.pop(field, None)
    else:
        _context[field] = str(value)


def _priority(levelno):
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


def _stderr_is_journal():
    e = os.environ.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in e.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return st.st_dev == dev and st.st_ino == ino


def _field(name, value):
    data = value.encode("utf-8", "replace")
    if b"\n" in data:
        return name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
    return name.encode() + b"=" + data + b"\n"


class JournalHandler(logging.Handler):
    def __init__(self, ident, plugin):
        super().__init__()
        self.ident = ident
        self.plugin = plugin
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def emit(self, record):
        try:
            fields = [("MESSAGE", self.format(record)), ("PRIORITY", str(_priority(record.levelno))),
                      ("CODE_FILE", record.pathname), ("CODE_LINE", str(record.lineno)),
                      ("CODE_FUNC", record.funcName), ("SYSLOG_IDENTIFIER", self.ident)]
            if self.plugin:
                fields.append(("SDLOOP_PLUGIN", self.plugin))
            fields.extend(_context.items())
            self.socket.sendto(b"".join(_field(k, v) for k, v in fields), JOURNAL_SOCKET)
        except OSError:
            StderrHandler(self.ident, self.plugin).emit(record)


class StderrHandler(logging.Handler):
    def __init__(self, ident, plugin):
        super().__init__()
        self.ident = ident
        self.plugin = plugin

    def emit(self, record):
        where = f"{self.ident}[{self.plugin}]" if self.plugin else self.ident
        try:
            sys.stderr.write(f"<{_priority(record.levelno)}>{where}: {self.format(record)}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def setup(ident, plugin):
    """Route the root logger as libsdloop routes its log; returns the handler."""
    target = os.environ.get("SDLOOP_LOG_TARGET", "auto")
    if target == "journal":
        journal = True
    elif target in ("stderr", "console"):
        journal = False
    else:
        journal = _stderr_is_journal() or (not sys.stderr.isatty() and os.access(JOURNAL_SOCKET, os.W_OK))
    handler = JournalHandler(ident, plugin) if journal else StderrHandler(ident, plugin)

    level = os.environ.get("SDLOOP_LOG_LEVEL", "info")
    prio = _LEVELS.get(level, int(level) if level.isdigit() else 6)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if prio >= 7 else logging.INFO if prio >= 5 else
                  logging.WARNING if prio == 4 else logging.ERROR)
    return handler
