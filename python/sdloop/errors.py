# SPDX-License-Identifier: LGPL-2.1-or-later
"""The org.sdloop1.Error.* names (dbus/README.md "Errors") as exceptions a handler raises."""

MESSAGE_MAX = 1024  # SDLOOP_ERROR_MESSAGE_MAX: bytes of UTF-8 in an error message


def _clean(text):
    """Valid UTF-8 without control characters, at most MESSAGE_MAX bytes, cut after a whole character."""
    out = "".join(c if c >= " " and c != "\x7f" else f"\\x{ord(c):02x}" for c in text)
    if len(out.encode("utf-8")) <= MESSAGE_MAX:
        return out
    limit = MESSAGE_MAX - len("…".encode("utf-8"))
    cut = out.encode("utf-8")[:limit].decode("utf-8", "ignore")
    return cut + "…"


def quote(value, limit=64):
    """A value quoted back in a message: in "…", control characters and bytes that are not UTF-8 escaped."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "surrogateescape")
    value = str(value)
    escapes = {"\n": "\\n", "\t": "\\t", "\r": "\\r", '"': '\\"', "\\": "\\\\"}

    def one(c):
        if c in escapes:
            return escapes[c]
        if "\udc80" <= c <= "\udcff":  # a byte that is not UTF-8
            return f"\\x{ord(c) - 0xdc00:02x}"
        return c if c >= " " and c != "\x7f" else f"\\x{ord(c):02x}"

    text = "".join(one(c) for c in value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return f'"{text}"'


class Error(Exception):
    """An error a method call is answered with. Its D-Bus name is the class's `name`."""

    name = "org.sdloop1.Error.Internal"

    def __init__(self, message, name=None):
        super().__init__(message)
        if name:
            self.name = name
        self.message = _clean(str(message))

    def __str__(self):
        return f"{self.name}: {self.message}"


class PluginUnavailable(Error):
    name = "org.sdloop1.Error.PluginUnavailable"


class InvalidArgument(Error):
    """An argument failed validation: the message starts with the field's name."""

    name = "org.sdloop1.Error.InvalidArgument"

    def __init__(self, field, reason):
        super().__init__(f"{field}: {reason}")
        self.field = field


class NotFound(Error):
    name = "org.sdloop1.Error.NotFound"


class Unimplemented(Error):
    name = "org.sdloop1.Error.Unimplemented"


class Timeout(Error):
    name = "org.sdloop1.Error.Timeout"


class Internal(Error):
    name = "org.sdloop1.Error.Internal"


# The generic errors of D-Bus itself, with the texts sd-bus uses, so that a peer sees no difference.
UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
UNKNOWN_INTERFACE = "org.freedesktop.DBus.Error.UnknownInterface"
UNKNOWN_PROPERTY = "org.freedesktop.DBus.Error.UnknownProperty"
PROPERTY_READ_ONLY = "org.freedesktop.DBus.Error.PropertyReadOnly"
NO_REPLY = "org.freedesktop.DBus.Error.NoReply"

_BY_NAME = {c.name: c for c in (PluginUnavailable, InvalidArgument, NotFound, Unimplemented, Timeout, Internal)}


def from_dbus(name, message):
    """The exception for an error reply of a call this side made."""
    cls = _BY_NAME.get(name)
    if cls is None or cls is InvalidArgument:
        return Error(message or name, name=name)
    return cls(message or name)
