/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <sys/socket.h>
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

        /* The handler may drop the last reference. */
        sdloop_peer_ref(p);
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

        r = sd_bus_start(p->bus);
        if (r < 0)
                return r;

        r = sd_bus_attach_event(p->bus, p->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;

        p->connected = true;
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
        r = sd_bus_set_fd(p->bus, cfd, cfd);
        if (r < 0)
                return r;
        TAKE_FD(cfd);
        r = sd_bus_set_server(p->bus, true, id);
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
        r = sd_bus_set_fd(p->bus, cfd, cfd);
        if (r < 0)
                return r;
        TAKE_FD(cfd);

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

int sdloop_peer_connect(sd_event *event, const char *path, SdloopPeer **ret) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *p = NULL;
        _cleanup_free_ char *address = NULL;
        int r;

        if (!path || !ret)
                return -EINVAL;

        r = peer_new(event, &p);
        if (r < 0)
                return r;

        if (strncmp(path, "unix:", 5) == 0)
                address = strdup(path);
        else
                r = asprintf(&address, "unix:path=%s", path) < 0 ? -ENOMEM : 0;
        if (!address)
                return -ENOMEM;

        r = sd_bus_set_address(p->bus, address);
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

static SdloopPeer *peer_free(SdloopPeer *p) {
        p->connected = false;
        peer_leave_scope(p);
        sd_bus_slot_unref(p->disconnect_slot);
        sd_bus_slot_unref(p->hello_slot);
        if (p->bus && p->borrowed)
                sd_bus_unref(p->bus);
        else if (p->bus) {
                (void) sd_bus_detach_event(p->bus);
                sd_bus_flush_close_unref(p->bus);
        }
        sd_event_unref(p->event);
        free(p->description);
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
        peer_leave_scope(p);
        if (!p->borrowed)
                sd_bus_close(p->bus);
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

const char *sdloop_peer_get_description(SdloopPeer *p) {
        return p ? strempty(p->description) : "";
}

void sdloop_peer_set_disconnect_handler(SdloopPeer *p, sdloop_peer_disconnect_handler_t handler, void *userdata) {
        p->disconnect_handler = handler;
        p->disconnect_userdata = userdata;
}

void sdloop_peer_set_call_timeout(SdloopPeer *p, uint64_t usec) {
        p->call_timeout = usec > 0 ? usec : SDLOOP_CALL_TIMEOUT_USEC_DEFAULT;
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

int sdloop_peer_new_call(SdloopPeer *p, const char *path, const char *interface, const char *member,
                         sd_bus_message **ret) {
        if (!p)
                return -EINVAL;
        return sd_bus_message_new_method_call(p->bus, ret, NULL, path, interface, member);
}

static bool errno_is_disconnect(int r) {
        return r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE || r == -ESHUTDOWN || r == -ECONNREFUSED;
}

/* Turn transport failures into the names callers are promised. Errors the other side sent keep their
 * name and message. */
static int call_translate_error(SdloopPeer *p, sd_bus_message *m, int r, sd_bus_error *error) {
        const char *iface = sd_bus_message_get_interface(m), *member = sd_bus_message_get_member(m);
        bool open = sd_bus_is_open(p->bus) > 0 && p->connected;

        if (r >= 0)
                return r;

        if (sd_bus_error_has_name(error, SD_BUS_ERROR_NO_REPLY) && open) {
                sd_bus_error_free(error);
                return sdloop_error_setf(error, SDLOOP_ERROR_TIMEOUT, "%s: no reply to %s.%s() in time",
                                         strempty(p->description), strempty(iface), strempty(member));
        }
        if (!open || sd_bus_error_has_name(error, SD_BUS_ERROR_NO_REPLY) ||
            sd_bus_error_has_name(error, SD_BUS_ERROR_DISCONNECTED) ||
            (!sd_bus_error_is_set(error) && errno_is_disconnect(r))) {
                sd_bus_error_free(error);
                return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE,
                                         "%s: connection lost during %s.%s()", strempty(p->description),
                                         strempty(iface), strempty(member));
        }
        return sdloop_error_ensure(error, r, member);
}

static void (*pump_hook)(void *userdata);
static void *pump_hook_userdata;

void sdloop_set_pump_hook(void (*hook)(void *userdata), void *userdata) {
        pump_hook = hook;
        pump_hook_userdata = userdata;
}

static void run_pump_hook(void) {
        if (pump_hook)
                pump_hook(pump_hook_userdata);
}

typedef struct PendingCall {
        bool done;
        sd_bus_message *reply;
} PendingCall;

static int on_pending_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        PendingCall *c = userdata;

        c->reply = sd_bus_message_ref(reply);
        c->done = true;
        return 0;
}

int sdloop_peer_call(SdloopPeer *peer, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **ret_reply,
                     sd_bus_error *error) {
        /* Pumping may run code that drops the caller's reference. */
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *p = sdloop_peer_ref(peer);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        int r;

        if (!p || !m)
                return -EINVAL;

        sdloop_error_register();

        if (!sdloop_peer_is_connected(p))
                return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "%s: not connected",
                                         strempty(p->description));

        if (timeout_usec == 0)
                timeout_usec = p->call_timeout;

        if (sd_event_get_state(p->event) == SD_EVENT_INITIAL) {
                /* Top level: keep the loop turning so that callbacks into our own objects (and other
                 * connections) are served while we wait. */
                PendingCall c = {};
                uint64_t deadline = now_monotonic_usec() + MIN(timeout_usec, UINT64_MAX / 2);

                r = sd_bus_call_async(p->bus, &slot, m, on_pending_reply, &c, timeout_usec);
                if (r < 0)
                        return call_translate_error(p, m, r, error);

                while (!c.done) {
                        uint64_t now = now_monotonic_usec();

                        /* Our own deadline too: sd-bus times replies out only once the connection is up, and a
                         * peer that accepted but never authenticates (a hung plugin) would hold us for its
                         * 90 s authentication timeout instead. */
                        if (now >= deadline) {
                                sd_bus_message_unref(c.reply);
                                return sdloop_error_setf(error, SDLOOP_ERROR_TIMEOUT, "%s: no reply to %s.%s() in time",
                                                         strempty(p->description),
                                                         strempty(sd_bus_message_get_interface(m)),
                                                         strempty(sd_bus_message_get_member(m)));
                        }
                        r = sd_event_run(p->event, deadline - now);
                        if (r < 0) {
                                sd_bus_message_unref(c.reply);
                                return r;
                        }
                        if (!c.done)
                                run_pump_hook();
                        if (!c.done && !p->connected) {
                                /* Closed from our side: sd-bus drops pending callbacks then. */
                                sd_bus_message_unref(c.reply);
                                return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE,
                                                         "%s: connection closed during %s.%s()",
                                                         strempty(p->description),
                                                         strempty(sd_bus_message_get_interface(m)),
                                                         strempty(sd_bus_message_get_member(m)));
                        }
                        if (sd_event_get_state(p->event) == SD_EVENT_FINISHED && !c.done)
                                return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE,
                                                         "%s: event loop ended during call", strempty(p->description));
                }
                reply = c.reply;

                if (sd_bus_message_is_method_error(reply, NULL)) {
                        const sd_bus_error *e = sd_bus_message_get_error(reply);

                        r = sd_bus_error_copy(error, e);
                        return call_translate_error(p, m, r < 0 ? r : -EIO, error);
                }
        } else {
                r = sd_bus_call(p->bus, m, timeout_usec, error, &reply);
                if (r < 0)
                        return call_translate_error(p, m, r, error);
        }

        if (ret_reply)
                *ret_reply = TAKE_PTR(reply);
        return 0;
}

int sdloop_peer_call_method(SdloopPeer *p, const char *path, const char *interface, const char *member,
                            sd_bus_message **ret_reply, sd_bus_error *error, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sdloop_peer_new_call(p, path, interface, member, &m);
        if (r < 0)
                return r;

        if (!isempty(types)) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }

        return sdloop_peer_call(p, m, 0, ret_reply, error);
}

int sdloop_peer_call_async(SdloopPeer *p, sd_bus_slot **ret_slot, sd_bus_message *m,
                           sd_bus_message_handler_t callback, void *userdata, uint64_t timeout_usec) {
        if (!p || !m)
                return -EINVAL;
        if (!sdloop_peer_is_connected(p))
                return -EHOSTDOWN;
        return sd_bus_call_async(p->bus, ret_slot, m, callback, userdata, timeout_usec ?: p->call_timeout);
}

static int on_wait_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        bool *timed_out = userdata;

        *timed_out = true;
        return 0;
}

int sdloop_peer_wait_for(SdloopPeer *p, const bool *done, uint64_t timeout_usec) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *timer = NULL;
        bool timed_out = false;
        int r;

        if (timeout_usec > 0 && timeout_usec != UINT64_MAX) {
                r = sd_event_add_time_relative(p->event, &timer, CLOCK_MONOTONIC, timeout_usec, 0, on_wait_timeout,
                                               &timed_out);
                if (r < 0)
                        return r;
        }

        while (!*done) {
                if (timed_out)
                        return -ETIMEDOUT;
                if (!sdloop_peer_is_connected(p))
                        return -EHOSTDOWN;
                r = sd_event_run(p->event, UINT64_MAX);
                if (r < 0)
                        return r;
                run_pump_hook();
        }
        return 0;
}

int sdloop_peer_handshake(SdloopPeer *p, const char *expected_kind, SdloopPluginIdentity *ret,
                          sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sdloop_plugin_identity_done) SdloopPluginIdentity id = {};
        bool have_version = false;
        int r;

        r = sdloop_peer_call_method(p, SDLOOP_ROOT_PATH, "org.freedesktop.DBus.Properties", "GetAll", &reply, error,
                                    "s", "org.sdloop1.Plugin");
        if (r < 0)
                return r;

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
