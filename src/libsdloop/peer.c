/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "macro.h"
#include "util.h"
#include "sdloop-error.h"
#include "sdloop-internal.h"
#include "sdloop-log.h"

void sdloop_plugin_identity_done(SdloopPluginIdentity *id) {
        if (!id)
                return;
        id->name = mfree(id->name);
        id->kind = mfree(id->kind);
        id->version = mfree(id->version);
        id->protocol_version = 0;
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SdloopPeer *p = userdata;

        if (!p->connected)
                return 0;
        p->connected = false;
        log_debug("Connection %s closed.", strempty(p->description));
        /* sd-bus closed its descriptors; the gate's duplicate of the socket still holds it open. */
        input_gate_close(p->gate);

        /* The handler may drop the last reference. */
        sdloop_peer_ref(p);
        peer_cancel_calls(p);
        peer_fail_async_calls(p);
        peer_leave_scope(p);
        if (p->disconnect_handler)
                p->disconnect_handler(p, p->disconnect_userdata);
        sdloop_peer_unref(p);
        return 0;
}

/* busctl --address= always says Hello first; answering makes the connection look like a bus. */
static int method_hello(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "s", ":1.1");
}

static int method_add_match(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        /* A peer gets every signal anyway. */
        return sd_bus_reply_method_return(m, NULL);
}

static int method_get_name_owner(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "s", ":1.0");
}

static const sd_bus_vtable hello_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Hello", "", "s", method_hello, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("AddMatch", "s", "", method_add_match, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("RemoveMatch", "s", "", method_add_match, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("GetNameOwner", "s", "s", method_get_name_owner, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int peer_new(sd_event *event, SdloopPeer **ret) {
        SdloopPeer *p;
        int r;

        sdloop_error_register();

        p = new0(SdloopPeer, 1);
        if (!p)
                return -ENOMEM;
        p->n_ref = 1;
        p->call_timeout = SDLOOP_CALL_TIMEOUT_USEC_DEFAULT;

        /* A scope of its own until someone puts it into a shared one. */
        p->scope = scope_new();
        if (!p->scope) {
                free(p);
                return -ENOMEM;
        }
        p->scope->peers = new0(SdloopPeer *, 1);
        if (!p->scope->peers) {
                scope_unref(p->scope);
                free(p);
                return -ENOMEM;
        }
        p->scope->peers[0] = p;
        p->scope->n_peers = 1;

        if (event)
                p->event = sd_event_ref(event);
        else {
                r = sd_event_default(&p->event);
                if (r < 0) {
                        peer_leave_scope(p);
                        free(p);
                        return r;
                }
        }

        r = sd_bus_new(&p->bus);
        if (r < 0) {
                peer_leave_scope(p);
                sd_event_unref(p->event);
                free(p);
                return r;
        }

        *ret = p;
        return 0;
}

/* Bytes that follow the authentication in the same write sit unread in sd-bus (252, and unchanged since):
 * bus_socket_read_auth() reads the SASL lines in chunks of 256 bytes and more, and on BEGIN
 * bus_socket_auth_verify_server() moves the rest of the chunk to the front of the read buffer and starts
 * the connection (the client side does the same after OK). But sd_bus_get_events() then asks the event
 * loop for POLLIN only, and sd_bus_get_timeout() for an immediate wake-up only when complete messages are
 * queued (rqueue), never for bytes in the read buffer. A client that sent its first call together with
 * BEGIN, as libdbus and GDBus do, sends nothing more until answered, so the socket stays quiet and the call
 * is never parsed. We cannot patch the distribution's libsystemd; instead, once the connection runs,
 * sd_bus_process() is called until it has nothing left to do, which parses what is buffered. A post source
 * (run after every dispatch, so also right after sd-bus's own) notices when authentication is over; a
 * defer source then drains, one message per loop iteration as sd-bus's own dispatch does. */
static int on_start_drain(sd_event_source *s, void *userdata) {
        SdloopPeer *p = userdata;
        int r;

        /* A handler may drop the last reference. */
        sdloop_peer_ref(p);
        r = sd_bus_process(p->bus, NULL);
        if (r < 0)
                log_debug_errno(r, "Connection %s: processing after authentication failed: %m",
                                strempty(p->description));
        if (r <= 0)
                p->start_source = sd_event_source_disable_unref(p->start_source);
        /* else it stays enabled: there may be more. */
        sdloop_peer_unref(p);
        return 0;
}

static int peer_drain_after_auth(SdloopPeer *p) {
        int r;

        p->start_source = sd_event_source_disable_unref(p->start_source);
        r = sd_event_add_defer(p->event, &p->start_source, on_start_drain, p);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(p->start_source, "sdloop-peer-start");
        /* Defer sources start as one-shot; this one runs until the buffer is empty. */
        return sd_event_source_set_enabled(p->start_source, SD_EVENT_ON);
}

static int on_start_post(sd_event_source *s, void *userdata) {
        SdloopPeer *p = userdata;
        int r;

        if (sd_bus_is_ready(p->bus) > 0) {
                r = peer_drain_after_auth(p);
                if (r < 0)
                        log_warning_errno(r, "Connection %s: cannot read what came with the authentication: %m",
                                          strempty(p->description));
        } else if (sd_bus_is_open(p->bus) <= 0)
                p->start_source = sd_event_source_disable_unref(p->start_source);
        return 0;
}

static int peer_watch_start(SdloopPeer *p) {
        int r;

        if (sd_bus_is_ready(p->bus) > 0)
                return peer_drain_after_auth(p);

        r = sd_event_add_post(p->event, &p->start_source, on_start_post, p);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(p->start_source, "sdloop-peer-start");
        return 0;
}

static int peer_start(SdloopPeer *p) {
        int r;

        /* Both sides check who is on the other end before the bus exists (SO_PEERCRED in the plugin
         * runtime; the host only connects to sockets it set up), so method access checks are moot. */
        r = sd_bus_set_trusted(p->bus, true);
        if (r < 0)
                return r;

        r = sd_bus_match_signal(p->bus, &p->disconnect_slot, "org.freedesktop.DBus.Local",
                                "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local", "Disconnected",
                                on_disconnected, p);
        if (r < 0)
                return r;

        /* Filters run newest first: this one after the context's, which must see every call. */
        r = dispatch_attach(p);
        if (r < 0)
                return r;

        r = context_attach(p);
        if (r < 0)
                return r;

        r = metrics_attach(p);
        if (r < 0)
                return r;

        r = sd_bus_start(p->bus);
        if (r < 0)
                return r;

        r = sd_bus_attach_event(p->bus, p->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;

        r = peer_watch_start(p);
        if (r < 0)
                return r;

        p->connected = true;
        return 0;
}

/* sd-bus writes to @fd (which it takes) and reads what the gate passes on (input-gate.c). */
static int peer_set_gated_fd(SdloopPeer *p, int fd) {
        _cleanup_close_ int cfd = fd, bus_fd = -EBADF;
        int r;

        r = input_gate_new(p, cfd, p->server, &p->gate, &bus_fd);
        if (r < 0)
                return r;
        r = sd_bus_set_fd(p->bus, bus_fd, cfd);
        if (r < 0)
                return r;
        TAKE_FD(bus_fd);
        TAKE_FD(cfd);
        return 0;
}

int sdloop_peer_new_server(sd_event *event, int fd, SdloopPeer **ret) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *p = NULL;
        _cleanup_close_ int cfd = fd;
        sd_id128_t id;
        int r;

        if (fd < 0 || !ret)
                return -EINVAL;

        r = peer_new(event, &p);
        if (r < 0)
                return r;
        p->server = true;

        r = sd_id128_randomize(&id);
        if (r < 0)
                return r;
        r = peer_set_gated_fd(p, TAKE_FD(cfd));
        if (r < 0)
                return r;
        r = sd_bus_set_server(p->bus, true, id);
        if (r < 0)
                return r;
        /* sd-bus reads a pipe, so it cannot see the client's credentials: the runtime checked them on the
         * socket before the connection was made (plugin.c), and EXTERNAL is taken as said. */
        r = sd_bus_set_anonymous(p->bus, true);
        if (r < 0)
                return r;

        r = sd_bus_add_object_vtable(p->bus, &p->hello_slot, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                     hello_vtable, p);
        if (r < 0)
                return r;

        r = peer_start(p);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

int sdloop_peer_new_client(sd_event *event, int fd, SdloopPeer **ret) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *p = NULL;
        _cleanup_close_ int cfd = fd;
        int r;

        if (fd < 0 || !ret)
                return -EINVAL;

        r = peer_new(event, &p);
        if (r < 0)
                return r;
        r = peer_set_gated_fd(p, TAKE_FD(cfd));
        if (r < 0)
                return r;

        r = peer_start(p);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

int sdloop_peer_new_bus(sd_event *event, sd_bus *bus, SdloopPeer **ret) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *p = NULL;
        int r;

        if (!bus || !ret)
                return -EINVAL;

        r = peer_new(event, &p);
        if (r < 0)
                return r;
        sd_bus_unref(p->bus);
        p->bus = sd_bus_ref(bus);
        p->borrowed = true;

        r = sd_bus_match_signal(p->bus, &p->disconnect_slot, "org.freedesktop.DBus.Local",
                                "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local", "Disconnected",
                                on_disconnected, p);
        if (r < 0)
                return r;
        if (!sd_bus_get_event(p->bus)) {
                r = sd_bus_attach_event(p->bus, p->event, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0)
                        return r;
        }
        p->connected = true;

        *ret = TAKE_PTR(p);
        return 0;
}

/* A connected AF_UNIX stream socket. Connecting does not wait: a listener's queue takes the connection at
 * once, or refuses it (EAGAIN when full, ECONNREFUSED, ENOENT), which the caller retries. */
static int peer_connect_socket(const char *path, int *ret) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t l = strlen(path);

        if (l == 0 || l >= sizeof(sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, path, l);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, offsetof(struct sockaddr_un, sun_path) + l + 1) < 0)
                return -errno;
        *ret = TAKE_FD(fd);
        return 0;
}

int sdloop_peer_connect(sd_event *event, const char *path, SdloopPeer **ret) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *p = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!path || !ret)
                return -EINVAL;

        if (strncmp(path, "unix:path=", strlen("unix:path=")) == 0)
                path += strlen("unix:path=");
        else if (strncmp(path, "unix:", strlen("unix:")) == 0) {
                /* Other addresses (abstract sockets, several keys) are sd-bus's to parse and connect; what
                 * comes back on them is read by sd-bus directly, without the gate. */
                r = peer_new(event, &p);
                if (r < 0)
                        return r;
                r = sd_bus_set_address(p->bus, path);
                if (r < 0)
                        return r;
                r = sdloop_peer_set_description(p, path);
                if (r < 0)
                        return r;
                r = peer_start(p);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(p);
                return 0;
        }

        r = peer_connect_socket(path, &fd);
        if (r < 0)
                return r;
        r = sdloop_peer_new_client(event, TAKE_FD(fd), &p);
        if (r < 0)
                return r;
        r = sdloop_peer_set_description(p, path);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

static SdloopPeer *peer_free(SdloopPeer *p) {
        p->connected = false;
        peer_cancel_calls(p);
        peer_forget_async_calls(p);
        context_detach(p);
        metrics_detach(p);
        peer_leave_scope(p);
        sd_bus_slot_unref(p->disconnect_slot);
        sd_bus_slot_unref(p->hello_slot);
        sd_bus_slot_unref(p->dispatch_filter_slot);
        sd_bus_slot_unref(p->dispatch_fallback_slot);
        sd_event_source_disable_unref(p->start_source);
        input_gate_free(p->gate);
        if (p->bus && p->borrowed)
                sd_bus_unref(p->bus);
        else if (p->bus) {
                (void) sd_bus_detach_event(p->bus);
                sd_bus_flush_close_unref(p->bus);
        }
        sd_event_unref(p->event);
        free(p->description);
        free(p->close_reason);
        return mfree(p);
}

SdloopPeer *sdloop_peer_ref(SdloopPeer *p) {
        if (p)
                p->n_ref++;
        return p;
}

SdloopPeer *sdloop_peer_unref(SdloopPeer *p) {
        if (!p)
                return NULL;
        assert(p->n_ref > 0);
        if (--p->n_ref > 0)
                return NULL;
        return peer_free(p);
}

void sdloop_peer_disconnect(SdloopPeer *p) {
        if (!p || !p->connected)
                return;
        p->connected = false;
        peer_cancel_calls(p);
        peer_leave_scope(p);
        if (!p->borrowed)
                sd_bus_close(p->bus);
        input_gate_close(p->gate);
        peer_fail_async_calls(p);
}

sd_bus *sdloop_peer_get_bus(SdloopPeer *p) {
        return p ? p->bus : NULL;
}

sd_event *sdloop_peer_get_event(SdloopPeer *p) {
        return p ? p->event : NULL;
}

bool sdloop_peer_is_connected(SdloopPeer *p) {
        return p && p->connected && sd_bus_is_open(p->bus) > 0;
}

int sdloop_peer_set_description(SdloopPeer *p, const char *description) {
        int r;

        r = free_and_strdup(&p->description, description);
        if (r < 0)
                return r;
        /* sd-bus takes a description only before the connection starts; ours is what matters. */
        (void) sd_bus_set_description(p->bus, description);
        return 0;
}

const char *sdloop_peer_get_close_reason(SdloopPeer *p) {
        return p ? p->close_reason : NULL;
}

const char *sdloop_peer_get_description(SdloopPeer *p) {
        return p ? strempty(p->description) : "";
}

void sdloop_peer_set_disconnect_handler(SdloopPeer *p, sdloop_peer_disconnect_handler_t handler, void *userdata) {
        p->disconnect_handler = handler;
        p->disconnect_userdata = userdata;
}

void sdloop_peer_set_call_timeout(SdloopPeer *p, uint64_t usec) {
        p->call_timeout = usec > 0 ? usec : SDLOOP_CALL_TIMEOUT_USEC_DEFAULT;
        /* The other side hears of it with our next call. */
        p->defaults_sent = false;
}

uint64_t sdloop_peer_get_call_timeout(SdloopPeer *p) {
        return p->call_timeout;
}

void sdloop_peer_set_userdata(SdloopPeer *p, void *userdata) {
        p->userdata = userdata;
}

void *sdloop_peer_get_userdata(SdloopPeer *p) {
        return p ? p->userdata : NULL;
}

int sdloop_peer_new_handshake(SdloopPeer *p, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sdloop_peer_new_call(p, SDLOOP_ROOT_PATH, "org.freedesktop.DBus.Properties", "GetAll", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", "org.sdloop1.Plugin");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int sdloop_peer_handshake(SdloopPeer *p, const char *expected_kind, SdloopPluginIdentity *ret,
                          sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sdloop_peer_new_handshake(p, &m);
        if (r < 0)
                return r;
        r = sdloop_peer_call(p, m, 0, &reply, error);
        if (r < 0)
                return r;
        return sdloop_peer_handshake_check(p, reply, expected_kind, ret, error);
}

int sdloop_peer_handshake_check(SdloopPeer *p, sd_bus_message *reply, const char *expected_kind,
                                SdloopPluginIdentity *ret, sd_bus_error *error) {
        _cleanup_(sdloop_plugin_identity_done) SdloopPluginIdentity id = {};
        bool have_version = false;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                goto bad;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key, *s;
                char **target = NULL;

                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        goto bad;
                if (streq(key, "Name"))
                        target = &id.name;
                else if (streq(key, "Kind"))
                        target = &id.kind;
                else if (streq(key, "Version"))
                        target = &id.version;

                if (target) {
                        r = sd_bus_message_read(reply, "v", "s", &s);
                        if (r < 0)
                                goto bad;
                        r = free_and_strdup(target, s);
                        if (r < 0)
                                return r;
                } else if (streq(key, "ProtocolVersion")) {
                        r = sd_bus_message_read(reply, "v", "u", &id.protocol_version);
                        if (r < 0)
                                goto bad;
                        have_version = true;
                } else {
                        r = sd_bus_message_skip(reply, "v");
                        if (r < 0)
                                goto bad;
                }
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        goto bad;
        }
        if (r < 0)
                goto bad;

        if (!id.kind || !have_version) {
                (void) sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT,
                                         "%s: handshake: org.sdloop1.Plugin lacks Kind or ProtocolVersion",
                                         strempty(p->description));
                return -EPROTO;
        }
        if (id.protocol_version != SDLOOP_PROTOCOL_VERSION) {
                (void) sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT,
                                         "%s: handshake: plugin speaks protocol version %" PRIu32
                                         ", this host speaks %u", strempty(p->description), id.protocol_version,
                                         SDLOOP_PROTOCOL_VERSION);
                return -EPROTO;
        }
        if (expected_kind && !streq(id.kind, expected_kind)) {
                (void) sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT,
                                         "%s: handshake: plugin is of kind \"%s\", expected \"%s\"",
                                         strempty(p->description), id.kind, expected_kind);
                return -EPROTO;
        }

        if (ret) {
                *ret = id;
                id = (SdloopPluginIdentity) {};
        }
        return 0;

bad:
        return sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT, "%s: handshake: malformed reply: %s",
                                 strempty(p->description), strerror(-r));
}
