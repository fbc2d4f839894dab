/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What every <service>-server.c and <service>-client.c share. Not installed. */

#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"
#include "sdloop-object.h"
#include "sdloop-peer.h"
#include "sdloop-internal.h"

/* In a method handler: the service's ops table and the implementation's state. */
#define BINDING_OPS(userdata, type) ((const type *) ((SdloopBinding *) (userdata))->ops)
#define BINDING_DATA(userdata) (((SdloopBinding *) (userdata))->userdata)
#define BINDING_OBJECT(userdata) (((SdloopBinding *) (userdata))->object)

/* --- server side --- */

/* org.sdloop1.Error.Unimplemented naming the called member. */
int service_unimplemented(sd_bus_message *m, sd_bus_error *error);

/* An implementation returned r < 0: make sure @error names what failed ("Iface.Member: …"). Returns r. */
int service_failed(sd_bus_message *m, int r, sd_bus_error *error);

int service_reply_bytes(sd_bus_message *m, const void *data, size_t size);
int service_reply_object(sd_bus_message *m, SdloopObject *o);

/* A method handler runs its operation as the call being served (sdloop-call.h):
 *
 *         _cleanup_(call_done) SdloopCall call = {};
 *         … read and check the arguments …
 *         r = call_begin(&call, m, BINDING_OBJECT(userdata));
 *         if (r < 0)
 *                 return r;
 *         r = service_call_end(&call, m, ops->op(…, &outputs, error), error);
 *         if (r != 0)
 *                 return r;
 *         return op_reply(m, outputs, error);
 *
 * and op_reply() — check the results, send them — also finishes a deferred call, in
 * sdloop_<service>_<op>_return(): SERVICE_RETURN(c, op_reply, results). After the operation, the called
 * object is call.object (NULL if the operation closed it), never the binding's: that may be gone. */

/* The operation of @call returned @r. 1: it deferred — return that and send nothing; whatever it put in
 * @error is dropped (sd-bus would send it). r < 0: it failed, named as service_failed() names it. 0: reply
 * now (a stray @error of an operation claiming success is dropped too). */
int service_call_end(SdloopCall *call, sd_bus_message *m, int r, sd_bus_error *error);

/* The body of a typed *_return(): finish deferred @call with what finisher(m, …, error) sends, or with the
 * error it refuses the results with. Evaluates to 0, -EIO (results refused), -ECANCELED or -ESTALE. */
#define SERVICE_RETURN(call, finisher, ...)                                                             \
        ({                                                                                              \
                _cleanup_(sd_bus_error_free) sd_bus_error _error = SD_BUS_ERROR_NULL;                  \
                sd_bus_message *_m;                                                                     \
                int _r = call_finish_begin(call, &_m);                                                  \
                if (_r >= 0)                                                                            \
                        _r = call_finish_end(call, finisher(_m, __VA_ARGS__, &_error), &_error);        \
                _r;                                                                                     \
        })

/* Bytes handed to a typed return: NULL is empty. */
static inline const SdloopBytes *service_bytes_or_empty(const SdloopBytes *b) {
        static const SdloopBytes empty = {};

        return b ?: &empty;
}

/* Check a digest the implementation hands to a typed return (present); otherwise service_bad_return(). */
int service_check_return_digest(sd_bus_message *m, const char *field, const uint8_t *digest, sd_bus_error *error);

/* --- client side --- */

/* A reply that does not parse (a plugin returning garbage) is an InvalidArgument naming
 * "<Member> reply.<field>". These turn sd-bus read failures into that. */
int service_reply_garbage(sd_bus_message *reply, const char *field, int r, sd_bus_error *error);

/* Read an "o" from a reply. */
int service_read_reply_path(sd_bus_message *reply, char **ret, sd_bus_error *error);
/* Read a "s" from a reply, copied. */
int service_read_reply_string(sd_bus_message *reply, const char *field, char **ret, sd_bus_error *error);
/* Read an "ay" reply of at most @max bytes (0: SDLOOP_PAYLOAD_MAX), copied. */
int service_read_reply_bytes(sd_bus_message *reply, const char *field, size_t max, SdloopBytes *ret,
                             sd_bus_error *error);
/* Read a "b" from a reply. */
int service_read_reply_bool(sd_bus_message *reply, const char *field, bool *ret, sd_bus_error *error);

/* Call a method without arguments and return its reply. */
int service_call_simple(SdloopPeer *peer, const char *path, const char *interface, const char *member,
                        sd_bus_message **ret_reply, sd_bus_error *error);

/* --- checks shared by servers and clients --- */

/* UTF-8 as sd-bus accepts it in "s": no overlong forms, surrogates, noncharacters or code points past
 * U+10FFFF. A string that fails this cannot be put on the wire. */
bool service_utf8_is_valid(const char *s);

/* SDLOOP_QUOTE() of @s in a buffer of its own, the quoted text taking at most @max bytes. NULL on OOM. */
char *service_quote(const char *s, size_t max);

/* Server: read an "s" argument. A read failure, invalid UTF-8 or more than @max bytes (0: unbounded) is an
 * InvalidArgument naming @field. *ret points into @m. */
int service_read_string(sd_bus_message *m, const char *field, size_t max, const char **ret, sd_bus_error *error);

/* Server: the implementation broke the contract. Fills @error with org.sdloop1.Error.Internal
 * "<Iface>.<Member>: implementation returned <what>" and returns -EIO. */
int service_bad_return(sd_bus_message *m, sd_bus_error *error, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

/* Server: check a string the implementation returned (non-NULL, sendable UTF-8); otherwise
 * service_bad_return() naming @field. */
int service_check_return_string(sd_bus_message *m, const char *field, const char *s, sd_bus_error *error);

/* Server: reply with the path of an object the implementation created for this call. It must exist and
 * live on the connection of the object the call went to (@self); otherwise Internal. */
int service_reply_created(sd_bus_message *m, SdloopObject *self, SdloopObject *created, sd_bus_error *error);

/* Client: appending an argument failed. -EINVAL (a string that is not valid UTF-8, an oversized array)
 * becomes an InvalidArgument naming @field; anything else is returned as is. */
int service_append_failed(sd_bus_error *error, const char *field, int r);

/* Client: read an "o" from a reply, copied; a failure is an InvalidArgument naming @field. */
int service_read_reply_object(sd_bus_message *reply, const char *field, char **ret, sd_bus_error *error);

/* --- provider component services --- */

/* ContractTransmitter.Transmit: at most one signature per oracle id (a byte), each of at most 1 KiB. */
#define SERVICE_SIGNATURES_MAX SDLOOP_ORACLES_MAX
#define SERVICE_SIGNATURE_SIZE_MAX 1024U

/* Server: check a decimal the implementation returned (non-NULL, valid per sdloop_decimal_is_valid());
 * otherwise service_bad_return() naming @field. */
int service_check_return_decimal(sd_bus_message *m, const char *field, const char *s, sd_bus_error *error);
/* Server: check bytes the implementation returned (data present if size > 0, at most @max bytes, 0:
 * SDLOOP_PAYLOAD_MAX); otherwise service_bad_return() naming @field. */
int service_check_return_bytes(sd_bus_message *m, const char *field, const SdloopBytes *b, size_t max,
                               sd_bus_error *error);

/* Client: refuse an "ay" argument before sending it when the other side would refuse it anyway (more than
 * @max bytes, 0: SDLOOP_PAYLOAD_MAX), as an InvalidArgument naming @field. -EINVAL without @error for
 * data == NULL with size > 0, a programming error. */
int service_check_bytes_arg(const char *field, const void *data, size_t size, size_t max, sd_bus_error *error);

/* Client: read one basic value of D-Bus @type ('t', 'u', 'q', 'y', 'x', …) from a reply into @ret; a
 * failure is an InvalidArgument naming @field. @ret is untouched on failure. */
int service_read_reply_basic(sd_bus_message *reply, const char *field, char type, void *ret, sd_bus_error *error);

/* --- checks shared by both sides of a pair --- */

/* What is wrong with a ReportingPluginInfo (an empty name, a limit above SDLOOP_PAYLOAD_MAX): returns a
 * reason and sets *ret_field to the field's name, or returns NULL if it is sane. */
const char *service_reporting_plugin_info_check(const SdloopReportingPluginInfo *info, const char **ret_field);
