/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every reader of sdloop-codec.h on a message made of raw bytes, as a peer sends them.
 *
 * Input: a byte choosing the reader, a byte of flags (bit 0: the signature follows, a length byte and its
 * text; otherwise the message has the signature the reader expects), then the message body.
 *
 * Invariants: a refusal is -EINVAL with org.sdloop1.Error.InvalidArgument whose message starts with the
 * field and is sendable (valid UTF-8, at most SDLOOP_ERROR_MESSAGE_MAX bytes, no control characters), and
 * leaves the result zeroed; what a reader accepts, the matching writer writes and the reader reads back,
 * and writing that again gives the same message. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"

#define FIELD "arg"

typedef struct Reader {
        const char *name;
        const char *signature;
        size_t size;
        int (*read)(sd_bus_message *m, void *ret, sd_bus_error *error);
        int (*append)(sd_bus_message *m, const void *v);
        void (*done)(void *v);
} Reader;

typedef struct Array {
        void *v;
        size_t n;
} Array;

/* Adapters to one shape: read(m, ret, error), append(m, v), done(v). */
#define SCALAR_READER(type, reader, appender, destructor)                                              \
        static int read_##reader(sd_bus_message *m, void *ret, sd_bus_error *error) {                \
                return sdloop_read_##reader(m, FIELD, (type *) ret, error);                            \
        }                                                                                               \
        static int append_##reader(sd_bus_message *m, const void *v) {                                  \
                return appender(m, (const type *) v);                                                   \
        }                                                                                               \
        static void done_##reader(void *v) {                                                            \
                destructor((type *) v);                                                                 \
        }

#define ARRAY_READER(type, reader, appender, destructor, ...)                                          \
        static int read_##reader(sd_bus_message *m, void *ret, sd_bus_error *error) {                \
                Array *a = ret;                                                                         \
                return sdloop_read_##reader(m, FIELD, ##__VA_ARGS__, (type **) &a->v, &a->n, error);  \
        }                                                                                               \
        static int append_##reader(sd_bus_message *m, const void *v) {                                  \
                const Array *a = v;                                                                     \
                return appender(m, a->v, a->n);                                                         \
        }                                                                                               \
        static void done_##reader(void *v) {                                                            \
                Array *a = v;                                                                           \
                destructor(a->v, a->n);                                                                 \
        }

static void nothing(void *v) {
}
#define nothing_done(v) nothing(v)

static int write_string(sd_bus_message *m, const char **s) {
        return sd_bus_message_append_basic(m, 's', *s);
}
static void string_free(char **s) {
        free(*s);
}
static int write_digest(sd_bus_message *m, const uint8_t *d) {
        return sdloop_append_digest(m, d);
}
static int write_bytes(sd_bus_message *m, const SdloopBytes *b) {
        return sdloop_append_bytes(m, b->data, b->size);
}
static int bytes_small(sd_bus_message *m, const char *field, SdloopBytes *ret, sd_bus_error *error) {
        return sdloop_read_bytes(m, field, 64, ret, error);
}
static int bytes_any(sd_bus_message *m, const char *field, SdloopBytes *ret, sd_bus_error *error) {
        return sdloop_read_bytes(m, field, 0, ret, error);
}
#define sdloop_read_bytes_small bytes_small
#define sdloop_read_bytes_any bytes_any

SCALAR_READER(char *, decimal, write_string, string_free)
SCALAR_READER(uint8_t, digest, write_digest, nothing_done)
SCALAR_READER(SdloopBytes, bytes_small, write_bytes, sdloop_bytes_done)
SCALAR_READER(SdloopBytes, bytes_any, write_bytes, sdloop_bytes_done)
SCALAR_READER(SdloopReportTimestamp, report_timestamp, sdloop_append_report_timestamp, nothing_done)
SCALAR_READER(SdloopReportContext, report_context, sdloop_append_report_context, nothing_done)
SCALAR_READER(SdloopContractConfig, contract_config, sdloop_append_contract_config, sdloop_contract_config_done)
SCALAR_READER(SdloopRelayArgs, relay_args, sdloop_append_relay_args, sdloop_relay_args_done)
SCALAR_READER(SdloopPluginArgs, plugin_args, sdloop_append_plugin_args, sdloop_plugin_args_done)
SCALAR_READER(SdloopReportingPluginConfig, reporting_plugin_config, sdloop_append_reporting_plugin_config,
              sdloop_reporting_plugin_config_done)
SCALAR_READER(SdloopReportingPluginInfo, reporting_plugin_info, sdloop_append_reporting_plugin_info,
              sdloop_reporting_plugin_info_done)
SCALAR_READER(SdloopChainStatus, chain_status, sdloop_append_chain_status, sdloop_chain_status_done)
SCALAR_READER(SdloopOnchainConfig, onchain_config, sdloop_append_onchain_config, sdloop_onchain_config_done)
ARRAY_READER(SdloopAttributed, attributed_array, sdloop_append_attributed_array, sdloop_attributed_array_free,
             (size_t) 64)
ARRAY_READER(SdloopParsedObservation, parsed_observations, sdloop_append_parsed_observations,
             sdloop_parsed_observations_free)
ARRAY_READER(SdloopNodeStatus, node_statuses, sdloop_append_node_statuses, sdloop_node_statuses_free)

#define READER(n, sig, type) { #n, sig, sizeof(type), read_##n, append_##n, done_##n }

static const Reader readers[] = {
        READER(decimal, "s", char *),
        READER(digest, "ay", uint8_t[SDLOOP_DIGEST_SIZE]),
        READER(bytes_small, "ay", SdloopBytes),
        READER(bytes_any, "ay", SdloopBytes),
        READER(report_timestamp, "(ayuy)", SdloopReportTimestamp),
        READER(report_context, "((ayuy)ay)", SdloopReportContext),
        READER(contract_config, "(aytaayasyaytay)", SdloopContractConfig),
        READER(relay_args, "(sisbss)", SdloopRelayArgs),
        READER(plugin_args, "(ss)", SdloopPluginArgs),
        READER(reporting_plugin_config, "(ayyuuayaytttttt)", SdloopReportingPluginConfig),
        READER(reporting_plugin_info, "(sb(ttt))", SdloopReportingPluginInfo),
        READER(chain_status, "(sbs)", SdloopChainStatus),
        READER(onchain_config, "(ss)", SdloopOnchainConfig),
        READER(attributed_array, "a(ayy)", Array),
        READER(parsed_observations, "a(ussy)", Array),
        READER(node_statuses, "a(ssss)", Array),
};

static bool is_zero(const void *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (((const uint8_t *) p)[i] != 0)
                        return false;
        return true;
}

static char *dump(sd_bus_message *m) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        fuzz_assert(f, "open_memstream");
        fuzz_assert(sd_bus_message_dump(m, f, 0) >= 0, "sd_bus_message_dump");
        fuzz_assert(fclose(f) == 0, "fclose");
        return text;
}

/* Write @v into a fresh sealed message, ready to be read. */
static sd_bus_message *write_value(const Reader *rd, const void *v) {
        sd_bus_message *m = NULL;

        fuzz_assert(sd_bus_message_new_signal(fuzz_bus(), &m, "/", "org.sdloop1.Fuzz", "Output") >= 0,
                    "sd_bus_message_new_signal");
        fuzz_assert(rd->append(m, v) >= 0, rd->name);
        fuzz_assert(sd_bus_message_seal(m, 1, 0) >= 0, "sd_bus_message_seal");
        fuzz_assert(sd_bus_message_rewind(m, true) >= 0, "sd_bus_message_rewind");
        return m;
}

static void round_trip(const Reader *rd, const void *v) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m2, *m3;
        _cleanup_free_ void *v2 = calloc(1, rd->size);
        _cleanup_free_ char *d2 = NULL, *d3 = NULL;
        int r;

        fuzz_assert(v2, "out of memory");
        m2 = write_value(rd, v);
        r = rd->read(m2, v2, &error);
        fuzz_assert(r >= 0, error.message ?: rd->name);
        m3 = write_value(rd, v2);
        d2 = dump(m2);
        d3 = dump(m3);
        fuzz_assert(strcmp(d2, d3) == 0, d2);
        rd->done(v2);
        sd_bus_message_unref(m2);
        sd_bus_message_unref(m3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        char signature[256];
        const Reader *rd;
        uint8_t flags;
        void *v;
        int r;

        if (size < 2)
                return 0;
        rd = &readers[fuzz_take_u8(&data, &size) % ELEMENTSOF(readers)];
        flags = fuzz_take_u8(&data, &size);
        if (flags & 1) {
                size_t n = fuzz_take_u8(&data, &size);

                n = MIN(n, size);

                memcpy(signature, data, n);
                signature[n] = 0;
                data += n;
                size -= n;
        } else
                strcpy(signature, rd->signature);

        r = fuzz_bus_message_from_body(signature, data, size, &m);
        if (r == 0) {
                fuzz_note("%s: sd-bus dropped the message", rd->name);
                return 0; /* nothing reaches a reader */
        }

        v = calloc(1, rd->size);
        fuzz_assert(v, "out of memory");
        r = rd->read(m, v, &error);
        fuzz_note("%s: %s", rd->name, r < 0 ? error.message : "accepted");
        if (r < 0) {
                fuzz_check_bus_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, FIELD);
                fuzz_assert(is_zero(v, rd->size), rd->name);
        } else {
                fuzz_assert(!sd_bus_error_is_set(&error), error.message);
                round_trip(rd, v);
                rd->done(v);
        }
        free(v);
        return 0;
}
