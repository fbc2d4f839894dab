/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>

#include "sdloop-internal.h"
#include "service-util.h"

int service_unimplemented(sd_bus_message *m, sd_bus_error *error) {
        return sdloop_error_setf(error, SDLOOP_ERROR_UNIMPLEMENTED, "%s.%s() is not implemented by %s",
                                 strempty(sd_bus_message_get_interface(m)), strempty(sd_bus_message_get_member(m)),
                                 strempty(sd_bus_message_get_path(m)));
}

int service_failed(sd_bus_message *m, int r, sd_bus_error *error) {
        _cleanup_free_ char *context = NULL;
        const char *iface = strempty(sd_bus_message_get_interface(m));

        if (strncmp(iface, SDLOOP_INTERFACE_PREFIX, strlen(SDLOOP_INTERFACE_PREFIX)) == 0)
                iface += strlen(SDLOOP_INTERFACE_PREFIX);
        if (asprintf(&context, "%s.%s", iface, strempty(sd_bus_message_get_member(m))) < 0)
                context = NULL;
        return sdloop_error_ensure(error, r < 0 ? r : -EIO, context);
}

int service_reply_bytes(sd_bus_message *m, const void *data, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sdloop_append_bytes(reply, data, size);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

int service_reply_object(sd_bus_message *m, SdloopObject *o) {
        return sd_bus_reply_method_return(m, "o", sdloop_object_get_path(o));
}

int service_call_end(SdloopCall *call, sd_bus_message *m, int r, sd_bus_error *error) {
        bool deferred = call_end(call);

        if (!deferred && r < 0)
                return service_failed(m, r, error);
        sd_bus_error_free(error);
        return deferred;
}

int service_check_return_digest(sd_bus_message *m, const char *field, const uint8_t *digest, sd_bus_error *error) {
        if (!digest)
                return service_bad_return(m, error, "no %s", field);
        return 0;
}

int service_reply_garbage(sd_bus_message *reply, const char *field, int r, sd_bus_error *error) {
        return sdloop_error_invalid(error, field, "%s() returned a malformed reply: %s",
                                    strempty(sd_bus_message_get_member(reply)), strerror(r < 0 ? -r : EBADMSG));
}

int service_read_reply_path(sd_bus_message *reply, char **ret, sd_bus_error *error) {
        const char *p;
        char *c;
        int r;

        r = sd_bus_message_read(reply, "o", &p);
        if (r <= 0)
                return service_reply_garbage(reply, "reply.path", r, error);
        c = strdup(p);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

int service_read_reply_string(sd_bus_message *reply, const char *field, char **ret, sd_bus_error *error) {
        const char *s;
        char *c;
        int r;

        r = sd_bus_message_read(reply, "s", &s);
        if (r <= 0)
                return service_reply_garbage(reply, field, r, error);
        c = strdup(s);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

int service_read_reply_bytes(sd_bus_message *reply, const char *field, size_t max, SdloopBytes *ret,
                             sd_bus_error *error) {
        return sdloop_read_bytes(reply, field, max, ret, error);
}

int service_read_reply_bool(sd_bus_message *reply, const char *field, bool *ret, sd_bus_error *error) {
        int b, r;

        r = sd_bus_message_read(reply, "b", &b);
        if (r <= 0)
                return service_reply_garbage(reply, field, r, error);
        *ret = b;
        return 0;
}

int service_call_simple(SdloopPeer *peer, const char *path, const char *interface, const char *member,
                        sd_bus_message **ret_reply, sd_bus_error *error) {
        return sdloop_peer_call_method(peer, path, interface, member, ret_reply, error, NULL);
}

bool service_utf8_is_valid(const char *s) {
        return utf8_is_valid(s);
}

char *service_quote(const char *s, size_t max) {
        size_t size = max + 2 + 3 + 1; /* the quotes, "…" and NUL */
        char *buf;

        buf = malloc(size);
        if (!buf)
                return NULL;
        return (char *) sdloop_escape_into(buf, size, s, SIZE_MAX, SDLOOP_ESCAPE_QUOTE);
}

int service_read_string(sd_bus_message *m, const char *field, size_t max, const char **ret, sd_bus_error *error) {
        const char *s;
        size_t len;
        int r;

        /* sd-bus refuses strings that are not UTF-8 while reading; say so under the field's name rather
         * than as a bare EBADMSG. */
        r = sd_bus_message_read(m, "s", &s);
        if (r < 0)
                return sdloop_error_invalid(error, field, "not a valid D-Bus string (%s)", strerror(-r));
        if (r == 0)
                return sdloop_error_invalid(error, field, "missing");
        if (!service_utf8_is_valid(s))
                return sdloop_error_invalid(error, field, "not valid UTF-8");

        len = strlen(s);
        if (max > 0 && len > max)
                return sdloop_error_invalid(error, field, "%zu bytes, at most %zu allowed", len, max);

        *ret = s;
        return 0;
}

int service_bad_return(sd_bus_message *m, sd_bus_error *error, const char *format, ...) {
        _cleanup_free_ char *what = NULL;
        const char *iface = strempty(sd_bus_message_get_interface(m));
        va_list ap;
        int r;

        if (strncmp(iface, SDLOOP_INTERFACE_PREFIX, strlen(SDLOOP_INTERFACE_PREFIX)) == 0)
                iface += strlen(SDLOOP_INTERFACE_PREFIX);

        va_start(ap, format);
        r = vasprintf(&what, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        /* The implementation may already have filled @error while still claiming success. */
        sd_bus_error_free(error);
        (void) sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "%s.%s: implementation returned %s", iface,
                                 strempty(sd_bus_message_get_member(m)), what);
        return -EIO;
}

int service_check_return_string(sd_bus_message *m, const char *field, const char *s, sd_bus_error *error) {
        _cleanup_free_ char *q = NULL;

        if (!s)
                return service_bad_return(m, error, "no %s", field);
        if (!service_utf8_is_valid(s)) {
                q = service_quote(s, 64);
                return service_bad_return(m, error, "%s that is not valid UTF-8: %s", field, strempty(q));
        }
        return 0;
}

int service_reply_created(sd_bus_message *m, SdloopObject *self, SdloopObject *created, sd_bus_error *error) {
        if (!created)
                return service_bad_return(m, error, "no object");
        if (sdloop_object_get_peer(created) != sdloop_object_get_peer(self))
                return service_bad_return(m, error, "object %s of another connection",
                                          strempty(sdloop_object_get_path(created)));
        return service_reply_object(m, created);
}

int service_append_failed(sd_bus_error *error, const char *field, int r) {
        if (r == -EINVAL)
                return sdloop_error_invalid(error, field, "cannot be sent (not valid UTF-8, or too large)");
        return r;
}

int service_read_reply_object(sd_bus_message *reply, const char *field, char **ret, sd_bus_error *error) {
        const char *p;
        char *c;
        int r;

        r = sd_bus_message_read(reply, "o", &p);
        if (r <= 0)
                return service_reply_garbage(reply, field, r, error);
        c = strdup(p);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

int service_check_return_decimal(sd_bus_message *m, const char *field, const char *s, sd_bus_error *error) {
        _cleanup_free_ char *q = NULL;

        if (!s)
                return service_bad_return(m, error, "no %s", field);
        if (!sdloop_decimal_is_valid(s)) {
                q = service_quote(s, 64);
                return service_bad_return(m, error, "a %s that is not a decimal: %s", field, strempty(q));
        }
        return 0;
}

int service_check_return_bytes(sd_bus_message *m, const char *field, const SdloopBytes *b, size_t max,
                               sd_bus_error *error) {
        if (max == 0)
                max = SDLOOP_PAYLOAD_MAX;

        if (!b->data && b->size > 0)
                return service_bad_return(m, error, "%s of %zu bytes without data", field, b->size);
        if (b->size > max)
                return service_bad_return(m, error, "%s of %zu bytes, at most %zu allowed", field, b->size, max);
        return 0;
}

int service_check_bytes_arg(const char *field, const void *data, size_t size, size_t max, sd_bus_error *error) {
        if (max == 0)
                max = SDLOOP_PAYLOAD_MAX;

        if (!data && size > 0)
                return -EINVAL;
        if (size > max)
                return sdloop_error_invalid(error, field, "expected at most %zu bytes, got %zu", max, size);
        return 0;
}

int service_read_reply_basic(sd_bus_message *reply, const char *field, char type, void *ret, sd_bus_error *error) {
        int r;

        r = sd_bus_message_read_basic(reply, type, ret);
        if (r <= 0)
                return service_reply_garbage(reply, field, r, error);
        return 0;
}

const char *service_reporting_plugin_info_check(const SdloopReportingPluginInfo *info, const char **ret_field) {
        assert(info);
        assert(ret_field);

        /* libocr logs and labels metrics by the name, and refuses limits beyond what it can carry. */
        if (isempty(info->name)) {
                *ret_field = "name";
                return "must not be empty";
        }
        if (info->max_query_length > SDLOOP_PAYLOAD_MAX) {
                *ret_field = "max_query_length";
                return "exceeds the payload limit";
        }
        if (info->max_observation_length > SDLOOP_PAYLOAD_MAX) {
                *ret_field = "max_observation_length";
                return "exceeds the payload limit";
        }
        if (info->max_report_length > SDLOOP_PAYLOAD_MAX) {
                *ret_field = "max_report_length";
                return "exceeds the payload limit";
        }
        return NULL;
}
