# SPDX-License-Identifier: LGPL-2.1-or-later
"""One method call being answered, its context (deadline), and the calls it makes to the host."""

import logging
import time

import dbus
import dbus.lowlevel
from gi.repository import GLib

from . import contract, errors, types

log = logging.getLogger("sdloop")

CALL_TIMEOUT_USEC = 25 * 1000 * 1000  # SDLOOP_CALL_TIMEOUT_USEC_DEFAULT


def now_usec():
    """CLOCK_MONOTONIC in µs, the clock of deadline_usec."""
    return time.monotonic_ns() // 1000


def reply_values(method, result):
    """A handler's result as the list of out arguments."""
    n = len(method.out_args)
    if n == 0:
        return []
    if n == 1:
        return [result]
    if not isinstance(result, tuple) or len(result) != n:
        raise errors.Internal(f"{method.interface}.{method.name}: the implementation returned "
                              f"{type(result).__name__}, expected a tuple of {n}")
    return list(result)


def _check_out(method, values):
    for arg, v in zip(method.out_args, values):
        try:
            types.validate(arg, v, f"{method.name} reply.{arg.name}")
        except errors.InvalidArgument as e:
            raise errors.Internal(f"{method.interface}.{method.name}: the implementation returned an invalid "
                                  f"result: {e.message}") from None


class Peer:
    """The host's side of one connection: calls to the objects it serves to the plugin."""

    def __init__(self, connection):
        self.connection = connection
        self.default_sent = False
        self.watches = []

    def call(self, path, interface, member, args, on_done, deadline_usec=None, timeout_usec=None):
        """Call interface.member on path with args (a sequence), checked against the contract; when the
        reply comes, on_done(error, result) runs with an sdloop.Error or None and the results (None, a
        value or a tuple), converted and validated like arguments. The caller's deadline is sent ahead in
        Context.Set. Returns the pending call (.cancel() drops it: on_done never runs)."""
        method = contract.interface(interface).methods[member]
        m = dbus.lowlevel.MethodCallMessage(None, path, interface, member)
        if args:
            m.append(*args, signature=method.in_signature)

        if not self.default_sent:
            self._context("SetDefault", {"timeout_usec": dbus.UInt64(CALL_TIMEOUT_USEC)})
            self.default_sent = True
        timeout = timeout_usec or CALL_TIMEOUT_USEC
        if deadline_usec is not None:
            self._context("Set", {"deadline_usec": dbus.UInt64(deadline_usec)})
            timeout = min(timeout, max(deadline_usec - now_usec(), 1000))

        def on_reply(reply):
            if isinstance(reply, dbus.lowlevel.ErrorMessage):
                args = reply.get_args_list()
                text = str(args[0]) if args else ""
                name = reply.get_error_name()
                if name == errors.NO_REPLY:
                    on_done(errors.Timeout(f"{interface}.{member}: no reply in time ({text})"), None)
                else:
                    on_done(errors.from_dbus(name, text), None)
                return
            values = [types.convert(v) for v in reply.get_args_list(byte_arrays=True)]
            if reply.get_signature() != method.out_signature:
                on_done(errors.InvalidArgument(f"{member} reply",
                                               f"expected D-Bus type '{method.out_signature}', got "
                                               f"'{reply.get_signature()}'"), None)
                return
            try:
                values = [types.validate(a, v, f"{member} reply.{a.name}") for a, v in zip(method.out_args, values)]
            except errors.Error as e:
                on_done(e, None)
                return
            on_done(None, None if not values else values[0] if len(values) == 1 else tuple(values))

        return self.connection.send_message_with_reply(m, on_reply, timeout / 1e6, require_main_loop=True)

    def watch(self, path, interface, member, handler):
        """handler(*args) runs for every signal interface.member the host emits from path on this
        connection, with the arguments converted and checked by the contract's rules as a reply's are; a
        malformed one is logged and dropped (libsdloop's sdloop_contract_config_tracker_watch() does the
        same). Peer to peer there is no bus to tell of the match: it stays local. Returns the watch, whose
        remove() ends it; it ends with the connection too."""
        w = SignalWatch(self, path, interface, member, handler)
        self.watches.append(w)
        return w

    def dispatch_signal(self, msg):
        path, interface, member = msg.get_path(), msg.get_interface(), msg.get_member()
        watches = [w for w in self.watches if (w.path, w.interface, w.member) == (path, interface, member)]
        if not watches:
            return
        signal = contract.interface(interface)
        expected = signal.signals[member]
        if msg.get_signature() != expected:
            log.warning("Ignoring %s from %s with signature '%s', expected '%s'.", member, path,
                        msg.get_signature(), expected)
            return
        try:
            args = [types.validate(a, types.convert(v), a.name)
                    for a, v in zip(signal.signal_args[member], msg.get_args_list(byte_arrays=True))]
        except errors.Error as e:
            log.warning("Ignoring malformed %s from %s: %s", member, path, e.message)
            return
        for w in watches:
            if w in self.watches:
                try:
                    w.handler(*args)
                except Exception:  # noqa: BLE001 - the plugin goes on serving
                    log.exception("%s.%s handler for %s failed", interface, member, path)

    def _context(self, member, values):
        m = dbus.lowlevel.MethodCallMessage(None, "/org/sdloop1", "org.sdloop1.Context", member)
        m.append(dbus.Dictionary(values, signature="sv"), signature="a{sv}")
        m.set_no_reply(True)
        self.connection.send_message(m)


class SignalWatch:
    """Peer.watch(): one signal of the host's, watched on one connection."""

    def __init__(self, peer, path, interface, member, handler):
        if member not in contract.interface(interface).signals:
            raise KeyError(f"{interface} has no signal {member}")
        self.peer = peer
        self.path = path
        self.interface = interface
        self.member = member
        self.handler = handler

    def remove(self):
        if self in self.peer.watches:
            self.peer.watches.remove(self)


class Call:
    """A method call to one of the plugin's objects. A handler may answer it at once (return), or
    call defer() and answer later with reply()/fail(); a deferred call missing its deadline is answered
    with Timeout, one whose object closes first with NotFound, and its on_cancel handlers run."""

    def __init__(self, connection, message, obj, method, deadline_usec):
        self.connection = connection
        self.message = message
        self.object = obj
        self.method = method
        self.deadline_usec = deadline_usec
        self.peer = connection.sdloop_peer
        self.deferred = False
        self.done = False
        self._timer = None
        self._cancel_handlers = []
        self._pending = set()

    @property
    def name(self):
        return f"{self.method.interface}.{self.method.name}"

    def remaining_usec(self):
        """µs until the caller's deadline, None if it announced none."""
        return None if self.deadline_usec is None else self.deadline_usec - now_usec()

    def defer(self):
        """The handler answers later: returns this call, to keep."""
        if not self.deferred:
            self.deferred = True
            self.object.calls.add(self)
            if self.deadline_usec is not None:
                ms = max((self.deadline_usec - now_usec() + 999) // 1000, 0)
                self._timer = GLib.timeout_add(ms, self._on_deadline)
        return self

    def on_cancel(self, handler):
        """handler(call) runs if the call is cancelled (deadline, object closed, connection gone)."""
        self._cancel_handlers.append(handler)

    def call(self, path, interface, member, *args, on_done):
        """A call to the host on this connection with this call's deadline, dropped if this call is
        cancelled; see Peer.call."""
        pending = None

        def done(error, result):
            self._pending.discard(pending)
            if not self.done:
                on_done(error, result)

        pending = self.peer.call(path, interface, member, args, done, deadline_usec=self.deadline_usec)
        self._pending.add(pending)
        return pending

    def reply(self, *values):
        """Answer with the method's results, in order."""
        if self.done:
            return False
        try:
            values = list(values)
            if len(values) != len(self.method.out_args):
                raise errors.Internal(f"{self.name}: {len(values)} results, the contract has "
                                      f"{len(self.method.out_args)}")
            _check_out(self.method, values)
            m = dbus.lowlevel.MethodReturnMessage(self.message)
            if values:
                m.append(*values, signature=self.method.out_signature)
        except errors.Error as e:
            return self.fail(e)
        except (TypeError, ValueError, OverflowError) as e:
            return self.fail(errors.Internal(f"{self.name}: the implementation returned a bad result: {e}"))
        self._finish()
        self._send(m)
        return True

    def fail(self, error):
        """Answer with an error: an sdloop.Error, or any exception (Internal)."""
        if self.done:
            return False
        if not isinstance(error, errors.Error):
            error = errors.Internal(f"{self.name}: {error}")
        self._finish()
        self._send(dbus.lowlevel.ErrorMessage(self.message, error.name, error.message))
        return True

    def cancel(self, error_class, reason):
        if self.done:
            return
        self.fail(error_class(f"{self.name}: {reason}"))
        for handler in self._cancel_handlers:
            try:
                handler(self)
            except Exception:  # noqa: BLE001
                log.exception("%s: cancel handler failed", self.name)

    def drop(self):
        """The connection is gone: nobody waits for an answer any more."""
        if self.done:
            return
        self._finish()
        for handler in self._cancel_handlers:
            handler(self)

    def _on_deadline(self):
        self._timer = None
        self.cancel(errors.Timeout, "no answer before the caller's deadline")
        return False

    def _finish(self):
        self.done = True
        if self._timer is not None:
            GLib.source_remove(self._timer)
            self._timer = None
        for p in list(self._pending):
            p.cancel()
        self._pending.clear()
        self.object.calls.discard(self)
        self.connection.sdloop_calls.discard(self)

    def _send(self, m):
        if self.message.get_no_reply():
            return
        try:
            self.connection.send_message(m)
        except dbus.DBusException as e:
            log.debug("%s: the reply could not be sent: %s", self.name, e)
