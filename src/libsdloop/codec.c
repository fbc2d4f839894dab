/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Readers and writers for the composite types of the wire contract (DESIGN.md §3). Readers validate and
 * copy; on failure they report "<field>.<subfield>: <reason>" as org.sdloop1.Error.InvalidArgument and
 * leave nothing behind. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"

/* D-Bus signatures of the struct contents; the types themselves are "(" SIG ")". */
#define SIG_REPORT_TIMESTAMP         "ayuy"
#define SIG_REPORT_CONTEXT           "(" SIG_REPORT_TIMESTAMP ")ay"
#define SIG_CONTRACT_CONFIG          "aytaayasyaytay"
#define SIG_RELAY_ARGS               "sisbss"
#define SIG_PLUGIN_ARGS              "ss"
#define SIG_REPORTING_PLUGIN_CONFIG  "ayyuuayaytttttt"
#define SIG_REPORTING_PLUGIN_INFO    "sb(ttt)"
#define SIG_ATTRIBUTED               "ayy"
#define SIG_PARSED_OBSERVATION       "ussy"
#define SIG_CHAIN_STATUS             "sbs"
#define SIG_NODE_STATUS              "ssss"
#define SIG_ONCHAIN_CONFIG           "ss"

/* Room for a field path such as "observations[12].juels_per_fee_coin". A longer path is cut, which
 * only shortens the error message. */
#define FIELD_MAX 256

/* Unlike assigning "(T) {}", this also clears padding, so that "left zeroed" holds byte for byte. */
#define zero(x) memset(&(x), 0, sizeof(x))

/* Move a struct out of a _cleanup_ variable, leaving it zeroed. */
#define TAKE_STRUCT(s)                                          \
        ({                                                      \
                __typeof__(s) _s_ = (s);                        \
                (s) = (__typeof__(s)) {};                       \
                _s_;                                            \
        })

static _printf_(2, 3) const char *fieldf(char buf[static FIELD_MAX], const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(buf, FIELD_MAX, format, ap);
        va_end(ap);

        return buf;
}

/* sd-bus could not read what the contract says comes next: the sender used another type (-ENXIO), the
 * message is malformed (-EBADMSG), an array's elements do not end where its length says (-EBUSY, on
 * leaving it), or it ended early (0, the end of the enclosing array). That is the sender's mistake, so it
 * becomes InvalidArgument too. Anything else (-ENOMEM, or a programming error such as an unsealed message)
 * is passed on unchanged. */
static bool bus_read_is_invalid(int r) {
        return r == 0 || r == -ENXIO || r == -EBADMSG || r == -EBUSY;
}

static int bus_read_failed(sd_bus_error *error, const char *field, const char *signature, int r) {
        assert(field);
        assert(signature);
        assert(r <= 0);

        if (bus_read_is_invalid(r))
                return sdloop_error_invalid(error, field, "expected D-Bus type '%s'", signature);

        return r;
}

static int invalid_string(sd_bus_error *error, const char *field, const char *what, const char *s) {
        return sdloop_error_invalid(error, field, "malformed %s %s", what, SDLOOP_QUOTE(s));
}

/* Make room for element n of an array of elements of the given size; fresh slots are zeroed, so
 * that the array can be freed element by element at any time. */
static int grow(void **array, size_t *allocated, size_t n, size_t size) {
        size_t a;
        void *p;

        assert(array);
        assert(allocated);
        assert(size > 0);

        if (n < *allocated)
                return 0;

        a = MAX(*allocated * 2, (size_t) 4);
        p = reallocarray(*array, a, size);
        if (!p)
                return -ENOMEM;

        memset((uint8_t *) p + *allocated * size, 0, (a - *allocated) * size);
        *array = p;
        *allocated = a;
        return 0;
}

#define GROW(array, allocated, n) grow((void **) &(array), &(allocated), (n), sizeof(*(array)))

/* Element @n (0-based) of an array of at most @max is about to be read: refuse it before anything is
 * allocated for it. */
static int check_elements(sd_bus_error *error, const char *field, size_t n, size_t max) {
        if (n < max)
                return 0;
        return sdloop_error_invalid(error, field, "expected at most %zu entries, got more", max);
}

static int read_string(sd_bus_message *m, const char *field, char **ret, sd_bus_error *error) {
        const char *s;
        char *c;
        int r;

        assert(m);
        assert(ret);

        r = sd_bus_message_read_basic(m, 's', &s);
        if (r <= 0)
                return bus_read_failed(error, field, "s", r);

        c = strdup(s);
        if (!c)
                return -ENOMEM;

        *ret = c;
        return 0;
}

static int read_bool(sd_bus_message *m, const char *field, bool *ret, sd_bus_error *error) {
        int b, r;

        assert(m);
        assert(ret);

        /* sd-bus reads a 'b' into an int. */
        r = sd_bus_message_read_basic(m, 'b', &b);
        if (r <= 0)
                return bus_read_failed(error, field, "b", r);

        *ret = b;
        return 0;
}

static int read_uuid(sd_bus_message *m, const char *field, char **ret, sd_bus_error *error) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = read_string(m, field, &s, error);
        if (r < 0)
                return r;
        if (!sdloop_uuid_is_valid(s))
                return invalid_string(error, field, "UUID", s);

        *ret = TAKE_PTR(s);
        return 0;
}

static int read_json(sd_bus_message *m, const char *field, char **ret, sd_bus_error *error) {
        _cleanup_free_ char *s = NULL;
        const char *reason = NULL;
        int r;

        r = read_string(m, field, &s, error);
        if (r < 0)
                return r;
        if (!sdloop_json_is_valid(s, &reason))
                return sdloop_error_invalid(error, field, "invalid JSON: %s", strempty(reason));

        *ret = TAKE_PTR(s);
        return 0;
}

static int enter_struct(sd_bus_message *m, const char *field, const char *contents, sd_bus_error *error) {
        int r;

        assert(m);
        assert(field);
        assert(contents);

        r = sd_bus_message_enter_container(m, 'r', contents);
        if (r <= 0 && bus_read_is_invalid(r))
                return sdloop_error_invalid(error, field, "expected D-Bus type '(%s)'", contents);
        if (r < 0)
                return r;

        return 0;
}

static int exit_container(sd_bus_message *m, const char *field, const char *signature, sd_bus_error *error) {
        int r;

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return bus_read_failed(error, field, signature, r);

        return 0;
}

/* --- scalars ------------------------------------------------------------------------------------------ */

int sdloop_read_decimal(sd_bus_message *m, const char *field, char **ret, sd_bus_error *error) {
        _cleanup_free_ char *s = NULL;
        int r;

        assert(m);
        assert(field);
        assert(ret);

        *ret = NULL;

        r = read_string(m, field, &s, error);
        if (r < 0)
                return r;
        if (!sdloop_decimal_is_valid(s))
                return invalid_string(error, field, "decimal", s);

        *ret = TAKE_PTR(s);
        return 0;
}

#define HOST_PATH_PREFIX "/org/sdloop1/host/"

int sdloop_read_host_path(sd_bus_message *m, const char *field, const char *kind, const char **ret,
                          sd_bus_error *error) {
        const char *path, *rest;
        int r;

        assert(m);
        assert(field);
        assert(ret);

        r = sd_bus_message_read_basic(m, 'o', &path);
        if (r <= 0)
                return bus_read_failed(error, field, "o", r);

        rest = strncmp(path, HOST_PATH_PREFIX, strlen(HOST_PATH_PREFIX)) == 0 ? path + strlen(HOST_PATH_PREFIX) : NULL;
        if (rest && kind) {
                size_t l = strlen(kind);

                /* "<kind>/<n>", n a decimal number as the host builds them. */
                if (strncmp(rest, kind, l) != 0 || rest[l] != '/' || !rest[l + 1] ||
                    strspn(rest + l + 1, "0123456789") != strlen(rest + l + 1))
                        rest = NULL;
        }
        if (!rest || !*rest)
                return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND,
                                         "%s: the host can have no %s at %s (its paths are " HOST_PATH_PREFIX "%s%s)",
                                         field, kind ?: "object", path, strempty(kind), kind ? "/<n>" : "…");
        *ret = path;
        return 0;
}

int sdloop_read_digest(sd_bus_message *m, const char *field, uint8_t ret[static SDLOOP_DIGEST_SIZE], sd_bus_error *error) {
        const void *p;
        size_t size;
        int r;

        assert(m);
        assert(field);
        assert(ret);

        memset(ret, 0, SDLOOP_DIGEST_SIZE);

        r = sd_bus_message_read_array(m, 'y', &p, &size);
        if (r <= 0)
                return bus_read_failed(error, field, "ay", r);
        if (size != SDLOOP_DIGEST_SIZE)
                return sdloop_error_invalid(error, field, "expected %u bytes, got %zu", SDLOOP_DIGEST_SIZE, size);

        memcpy(ret, p, SDLOOP_DIGEST_SIZE);
        return 0;
}

int sdloop_append_digest(sd_bus_message *m, const uint8_t digest[static SDLOOP_DIGEST_SIZE]) {
        assert(m);
        assert(digest);

        return sd_bus_message_append_array(m, 'y', digest, SDLOOP_DIGEST_SIZE);
}

int sdloop_read_bytes(sd_bus_message *m, const char *field, size_t max, SdloopBytes *ret, sd_bus_error *error) {
        const void *p;
        size_t size;
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        if (max == 0)
                max = SDLOOP_PAYLOAD_MAX;

        r = sd_bus_message_read_array(m, 'y', &p, &size);
        if (r <= 0)
                return bus_read_failed(error, field, "ay", r);
        if (size > max)
                return sdloop_error_invalid(error, field, "expected at most %zu bytes, got %zu", max, size);

        /* The array points into the message; the caller's copy must outlive it. */
        return sdloop_bytes_copy(ret, p, size);
}

int sdloop_append_bytes(sd_bus_message *m, const void *data, size_t size) {
        assert(m);
        assert(data || size == 0);

        return sd_bus_message_append_array(m, 'y', data, size);
}

void sdloop_bytes_done(SdloopBytes *b) {
        if (!b)
                return;

        b->data = mfree(b->data);
        b->size = 0;
}

int sdloop_bytes_copy(SdloopBytes *dst, const void *data, size_t size) {
        uint8_t *p = NULL;

        assert(dst);
        assert(data || size == 0);

        /* Empty stays NULL; copy before freeing, in case data points into dst. */
        if (size > 0) {
                p = malloc(size);
                if (!p)
                        return -ENOMEM;
                memcpy(p, data, size);
        }

        free(dst->data);
        dst->data = p;
        dst->size = size;
        return 0;
}

/* --- ReportTimestamp, ReportContext ------------------------------------------------------------------ */

int sdloop_read_report_timestamp(sd_bus_message *m, const char *field, SdloopReportTimestamp *ret, sd_bus_error *error) {
        SdloopReportTimestamp v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_REPORT_TIMESTAMP, error);
        if (r < 0)
                return r;

        r = sdloop_read_digest(m, fieldf(sub, "%s.digest", field), v.digest, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read(m, "uy", &v.epoch, &v.round);
        if (r <= 0)
                return bus_read_failed(error, field, "(" SIG_REPORT_TIMESTAMP ")", r);

        r = exit_container(m, field, "(" SIG_REPORT_TIMESTAMP ")", error);
        if (r < 0)
                return r;

        *ret = v;
        return 0;
}

int sdloop_append_report_timestamp(sd_bus_message *m, const SdloopReportTimestamp *v) {
        int r;

        assert(m);
        assert(v);

        r = sd_bus_message_open_container(m, 'r', SIG_REPORT_TIMESTAMP);
        if (r < 0)
                return r;

        r = sdloop_append_digest(m, v->digest);
        if (r < 0)
                return r;

        r = sd_bus_message_append(m, "uy", v->epoch, v->round);
        if (r < 0)
                return r;

        return sd_bus_message_close_container(m);
}

int sdloop_read_report_context(sd_bus_message *m, const char *field, SdloopReportContext *ret, sd_bus_error *error) {
        SdloopReportContext v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_REPORT_CONTEXT, error);
        if (r < 0)
                return r;

        r = sdloop_read_report_timestamp(m, fieldf(sub, "%s.timestamp", field), &v.timestamp, error);
        if (r < 0)
                return r;

        r = sdloop_read_digest(m, fieldf(sub, "%s.extra_hash", field), v.extra_hash, error);
        if (r < 0)
                return r;

        r = exit_container(m, field, "(" SIG_REPORT_CONTEXT ")", error);
        if (r < 0)
                return r;

        *ret = v;
        return 0;
}

int sdloop_append_report_context(sd_bus_message *m, const SdloopReportContext *v) {
        int r;

        assert(m);
        assert(v);

        r = sd_bus_message_open_container(m, 'r', SIG_REPORT_CONTEXT);
        if (r < 0)
                return r;

        r = sdloop_append_report_timestamp(m, &v->timestamp);
        if (r < 0)
                return r;

        r = sdloop_append_digest(m, v->extra_hash);
        if (r < 0)
                return r;

        return sd_bus_message_close_container(m);
}

/* --- ContractConfig ----------------------------------------------------------------------------------- */

static void bytes_array_free(SdloopBytes *a, size_t n) {
        for (size_t i = 0; i < n; i++)
                sdloop_bytes_done(a + i);
        free(a);
}

/* "aay": the signers' public keys. */
static int read_bytes_array(sd_bus_message *m, const char *field, SdloopBytes **ret, size_t *ret_n, sd_bus_error *error) {
        SdloopBytes *a = NULL;
        size_t n = 0, allocated = 0;
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(ret);
        assert(ret_n);

        r = sd_bus_message_enter_container(m, 'a', "ay");
        if (r <= 0)
                return bus_read_failed(error, field, "aay", r);

        for (;;) {
                const void *p;
                size_t size;

                if (sd_bus_message_at_end(m, false) > 0)
                        break;
                r = check_elements(error, field, n, SDLOOP_ORACLES_MAX);
                if (r < 0)
                        goto fail;

                r = sd_bus_message_read_array(m, 'y', &p, &size);
                if (r < 0) {
                        r = bus_read_failed(error, fieldf(sub, "%s[%zu]", field, n), "ay", r);
                        goto fail;
                }
                if (r == 0)
                        break;

                if (size > SDLOOP_PAYLOAD_MAX) {
                        r = sdloop_error_invalid(error, fieldf(sub, "%s[%zu]", field, n),
                                                 "expected at most %u bytes, got %zu", SDLOOP_PAYLOAD_MAX, size);
                        goto fail;
                }

                r = GROW(a, allocated, n);
                if (r < 0)
                        goto fail;

                r = sdloop_bytes_copy(a + n, p, size);
                if (r < 0)
                        goto fail;
                n++;
        }

        r = exit_container(m, field, "aay", error);
        if (r < 0)
                goto fail;

        *ret = a;
        *ret_n = n;
        return 0;

fail:
        bytes_array_free(a, n);
        return r;
}

/* "as", one per oracle: counted before each is copied (sd_bus_message_read_strv() would take any number). */
static int read_transmitters(sd_bus_message *m, const char *field, char ***ret, sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r <= 0)
                return bus_read_failed(error, field, "as", r);

        l = new0(char *, SDLOOP_ORACLES_MAX + 1);
        if (!l)
                return -ENOMEM;
        for (;;) {
                const char *s;

                if (sd_bus_message_at_end(m, false) > 0)
                        break;
                r = check_elements(error, field, n, SDLOOP_ORACLES_MAX);
                if (r < 0)
                        return r;
                r = sd_bus_message_read_basic(m, 's', &s);
                if (r <= 0)
                        return bus_read_failed(error, field, "as", r);
                l[n] = strdup(s);
                if (!l[n])
                        return -ENOMEM;
                n++;
        }

        r = exit_container(m, field, "as", error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

int sdloop_read_contract_config(sd_bus_message *m, const char *field, SdloopContractConfig *ret, sd_bus_error *error) {
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig v = {};
        char sub[FIELD_MAX];
        size_t n_transmitters;
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_CONTRACT_CONFIG, error);
        if (r < 0)
                return r;

        r = sdloop_read_digest(m, fieldf(sub, "%s.digest", field), v.digest, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read_basic(m, 't', &v.config_count);
        if (r <= 0)
                return bus_read_failed(error, fieldf(sub, "%s.config_count", field), "t", r);

        r = read_bytes_array(m, fieldf(sub, "%s.signers", field), &v.signers, &v.n_signers, error);
        if (r < 0)
                return r;

        r = read_transmitters(m, fieldf(sub, "%s.transmitters", field), &v.transmitters, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read_basic(m, 'y', &v.f);
        if (r <= 0)
                return bus_read_failed(error, fieldf(sub, "%s.f", field), "y", r);

        r = sdloop_read_bytes(m, fieldf(sub, "%s.onchain_config", field), 0, &v.onchain_config, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read_basic(m, 't', &v.offchain_config_version);
        if (r <= 0)
                return bus_read_failed(error, fieldf(sub, "%s.offchain_config_version", field), "t", r);

        r = sdloop_read_bytes(m, fieldf(sub, "%s.offchain_config", field), 0, &v.offchain_config, error);
        if (r < 0)
                return r;

        r = exit_container(m, field, "(" SIG_CONTRACT_CONFIG ")", error);
        if (r < 0)
                return r;

        /* Signers and transmitters are indexed by oracle id, so they must pair up. */
        n_transmitters = strv_length(v.transmitters);
        if (n_transmitters != v.n_signers)
                return sdloop_error_invalid(error, fieldf(sub, "%s.transmitters", field),
                                            "expected one per signer (%zu), got %zu",
                                            v.n_signers, n_transmitters);

        /* OCR tolerates f faulty oracles out of n only if 3f < n. */
        if (v.n_signers > 0 && (size_t) v.f * 3 >= v.n_signers)
                return sdloop_error_invalid(error, fieldf(sub, "%s.f", field),
                                            "3f must be less than the number of oracles");

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_contract_config(sd_bus_message *m, const SdloopContractConfig *v) {
        int r;

        assert(m);
        assert(v);
        assert(v->signers || v->n_signers == 0);

        r = sd_bus_message_open_container(m, 'r', SIG_CONTRACT_CONFIG);
        if (r < 0)
                return r;

        r = sdloop_append_digest(m, v->digest);
        if (r < 0)
                return r;

        r = sd_bus_message_append_basic(m, 't', &v->config_count);
        if (r < 0)
                return r;

        r = sd_bus_message_open_container(m, 'a', "ay");
        if (r < 0)
                return r;
        for (size_t i = 0; i < v->n_signers; i++) {
                r = sdloop_append_bytes(m, v->signers[i].data, v->signers[i].size);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;

        /* sd-bus takes a NULL list as an empty one. */
        r = sd_bus_message_append_strv(m, v->transmitters);
        if (r < 0)
                return r;

        r = sd_bus_message_append_basic(m, 'y', &v->f);
        if (r < 0)
                return r;

        r = sdloop_append_bytes(m, v->onchain_config.data, v->onchain_config.size);
        if (r < 0)
                return r;

        r = sd_bus_message_append_basic(m, 't', &v->offchain_config_version);
        if (r < 0)
                return r;

        r = sdloop_append_bytes(m, v->offchain_config.data, v->offchain_config.size);
        if (r < 0)
                return r;

        return sd_bus_message_close_container(m);
}

void sdloop_contract_config_done(SdloopContractConfig *v) {
        if (!v)
                return;

        bytes_array_free(v->signers, v->n_signers);
        strv_free(v->transmitters);
        sdloop_bytes_done(&v->onchain_config);
        sdloop_bytes_done(&v->offchain_config);
        *v = (SdloopContractConfig) {};
}

/* --- RelayArgs, PluginArgs ---------------------------------------------------------------------------- */

int sdloop_read_relay_args(sd_bus_message *m, const char *field, SdloopRelayArgs *ret, sd_bus_error *error) {
        _cleanup_(sdloop_relay_args_done) SdloopRelayArgs v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_RELAY_ARGS, error);
        if (r < 0)
                return r;

        r = read_uuid(m, fieldf(sub, "%s.external_job_id", field), &v.external_job_id, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read_basic(m, 'i', &v.job_id);
        if (r <= 0)
                return bus_read_failed(error, fieldf(sub, "%s.job_id", field), "i", r);

        r = read_string(m, fieldf(sub, "%s.contract_id", field), &v.contract_id, error);
        if (r < 0)
                return r;

        r = read_bool(m, fieldf(sub, "%s.new", field), &v.new, error);
        if (r < 0)
                return r;

        r = read_json(m, fieldf(sub, "%s.relay_config", field), &v.relay_config, error);
        if (r < 0)
                return r;

        r = read_string(m, fieldf(sub, "%s.provider_type", field), &v.provider_type, error);
        if (r < 0)
                return r;

        r = exit_container(m, field, "(" SIG_RELAY_ARGS ")", error);
        if (r < 0)
                return r;

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_relay_args(sd_bus_message *m, const SdloopRelayArgs *v) {
        assert(m);
        assert(v);

        return sd_bus_message_append(m, "(" SIG_RELAY_ARGS ")",
                                     strempty(v->external_job_id),
                                     v->job_id,
                                     strempty(v->contract_id),
                                     (int) v->new,
                                     strempty(v->relay_config),
                                     strempty(v->provider_type));
}

void sdloop_relay_args_done(SdloopRelayArgs *v) {
        if (!v)
                return;

        free(v->external_job_id);
        free(v->contract_id);
        free(v->relay_config);
        free(v->provider_type);
        *v = (SdloopRelayArgs) {};
}

int sdloop_read_plugin_args(sd_bus_message *m, const char *field, SdloopPluginArgs *ret, sd_bus_error *error) {
        _cleanup_(sdloop_plugin_args_done) SdloopPluginArgs v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_PLUGIN_ARGS, error);
        if (r < 0)
                return r;

        r = read_string(m, fieldf(sub, "%s.transmitter_id", field), &v.transmitter_id, error);
        if (r < 0)
                return r;

        r = read_json(m, fieldf(sub, "%s.plugin_config", field), &v.plugin_config, error);
        if (r < 0)
                return r;

        r = exit_container(m, field, "(" SIG_PLUGIN_ARGS ")", error);
        if (r < 0)
                return r;

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_plugin_args(sd_bus_message *m, const SdloopPluginArgs *v) {
        assert(m);
        assert(v);

        return sd_bus_message_append(m, "(" SIG_PLUGIN_ARGS ")",
                                     strempty(v->transmitter_id),
                                     strempty(v->plugin_config));
}

void sdloop_plugin_args_done(SdloopPluginArgs *v) {
        if (!v)
                return;

        free(v->transmitter_id);
        free(v->plugin_config);
        *v = (SdloopPluginArgs) {};
}

/* --- ReportingPluginConfig, ReportingPluginInfo ------------------------------------------------------- */

int sdloop_read_reporting_plugin_config(sd_bus_message *m, const char *field, SdloopReportingPluginConfig *ret, sd_bus_error *error) {
        _cleanup_(sdloop_reporting_plugin_config_done) SdloopReportingPluginConfig v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_REPORTING_PLUGIN_CONFIG, error);
        if (r < 0)
                return r;

        r = sdloop_read_digest(m, fieldf(sub, "%s.digest", field), v.digest, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read(m, "yuu", &v.oracle_id, &v.n, &v.f);
        if (r <= 0)
                return bus_read_failed(error, field, "(" SIG_REPORTING_PLUGIN_CONFIG ")", r);

        r = sdloop_read_bytes(m, fieldf(sub, "%s.onchain_config", field), 0, &v.onchain_config, error);
        if (r < 0)
                return r;

        r = sdloop_read_bytes(m, fieldf(sub, "%s.offchain_config", field), 0, &v.offchain_config, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read(m, "tttttt",
                                &v.estimated_round_interval_usec,
                                &v.max_duration_query_usec,
                                &v.max_duration_observation_usec,
                                &v.max_duration_report_usec,
                                &v.max_duration_should_accept_usec,
                                &v.max_duration_should_transmit_usec);
        if (r <= 0)
                return bus_read_failed(error, field, "(" SIG_REPORTING_PLUGIN_CONFIG ")", r);

        r = exit_container(m, field, "(" SIG_REPORTING_PLUGIN_CONFIG ")", error);
        if (r < 0)
                return r;

        /* Oracle ids are 0-based indexes into the n oracles. 3f < n is the contract's business, not ours:
         * a plugin is told what the contract says. */
        if (v.n < 1)
                return sdloop_error_invalid(error, fieldf(sub, "%s.n", field), "must be at least 1");
        if (v.f >= v.n)
                return sdloop_error_invalid(error, fieldf(sub, "%s.f", field),
                                            "must be less than n (f=%" PRIu32 ", n=%" PRIu32 ")", v.f, v.n);
        if (v.oracle_id >= v.n)
                return sdloop_error_invalid(error, fieldf(sub, "%s.oracle_id", field),
                                            "must be less than n (oracle_id=%u, n=%" PRIu32 ")",
                                            v.oracle_id, v.n);

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_reporting_plugin_config(sd_bus_message *m, const SdloopReportingPluginConfig *v) {
        int r;

        assert(m);
        assert(v);

        r = sd_bus_message_open_container(m, 'r', SIG_REPORTING_PLUGIN_CONFIG);
        if (r < 0)
                return r;

        r = sdloop_append_digest(m, v->digest);
        if (r < 0)
                return r;

        r = sd_bus_message_append(m, "yuu", v->oracle_id, v->n, v->f);
        if (r < 0)
                return r;

        r = sdloop_append_bytes(m, v->onchain_config.data, v->onchain_config.size);
        if (r < 0)
                return r;

        r = sdloop_append_bytes(m, v->offchain_config.data, v->offchain_config.size);
        if (r < 0)
                return r;

        r = sd_bus_message_append(m, "tttttt",
                                  v->estimated_round_interval_usec,
                                  v->max_duration_query_usec,
                                  v->max_duration_observation_usec,
                                  v->max_duration_report_usec,
                                  v->max_duration_should_accept_usec,
                                  v->max_duration_should_transmit_usec);
        if (r < 0)
                return r;

        return sd_bus_message_close_container(m);
}

void sdloop_reporting_plugin_config_done(SdloopReportingPluginConfig *v) {
        if (!v)
                return;

        sdloop_bytes_done(&v->onchain_config);
        sdloop_bytes_done(&v->offchain_config);
        *v = (SdloopReportingPluginConfig) {};
}

int sdloop_read_reporting_plugin_info(sd_bus_message *m, const char *field, SdloopReportingPluginInfo *ret, sd_bus_error *error) {
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_REPORTING_PLUGIN_INFO, error);
        if (r < 0)
                return r;

        r = read_string(m, fieldf(sub, "%s.name", field), &v.name, error);
        if (r < 0)
                return r;

        r = read_bool(m, fieldf(sub, "%s.unique_reports", field), &v.unique_reports, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read(m, "(ttt)",
                                &v.max_query_length,
                                &v.max_observation_length,
                                &v.max_report_length);
        if (r <= 0)
                return bus_read_failed(error, field, "(" SIG_REPORTING_PLUGIN_INFO ")", r);

        r = exit_container(m, field, "(" SIG_REPORTING_PLUGIN_INFO ")", error);
        if (r < 0)
                return r;

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_reporting_plugin_info(sd_bus_message *m, const SdloopReportingPluginInfo *v) {
        assert(m);
        assert(v);

        return sd_bus_message_append(m, "(" SIG_REPORTING_PLUGIN_INFO ")",
                                     strempty(v->name),
                                     (int) v->unique_reports,
                                     v->max_query_length,
                                     v->max_observation_length,
                                     v->max_report_length);
}

void sdloop_reporting_plugin_info_done(SdloopReportingPluginInfo *v) {
        if (!v)
                return;

        free(v->name);
        *v = (SdloopReportingPluginInfo) {};
}

/* --- a(ayy): attributed observations and signatures --------------------------------------------------- */

static void attributed_done(SdloopAttributed *v) {
        sdloop_bytes_done(&v->data);
        v->oracle = 0;
}

static int read_attributed_elements(
                sd_bus_message *m,
                const char *field,
                size_t max_data,
                SdloopAttributed **array,
                size_t *n,
                sd_bus_error *error) {

        size_t allocated = *n;
        char sub[FIELD_MAX];
        int r;

        for (;;) {
                _cleanup_(attributed_done) SdloopAttributed e = {};

                /* Observations and signatures: one per oracle at most. */
                if (sd_bus_message_at_end(m, false) > 0)
                        return 0;
                r = check_elements(error, field, *n, SDLOOP_ORACLES_MAX);
                if (r < 0)
                        return r;

                r = sd_bus_message_enter_container(m, 'r', SIG_ATTRIBUTED);
                if (r < 0)
                        return bus_read_failed(error, fieldf(sub, "%s[%zu]", field, *n), "(" SIG_ATTRIBUTED ")", r);
                if (r == 0)
                        return 0; /* end of the array */

                r = sdloop_read_bytes(m, fieldf(sub, "%s[%zu].data", field, *n), max_data, &e.data, error);
                if (r < 0)
                        return r;

                r = sd_bus_message_read_basic(m, 'y', &e.oracle);
                if (r <= 0)
                        return bus_read_failed(error, fieldf(sub, "%s[%zu].oracle", field, *n), "y", r);

                r = exit_container(m, fieldf(sub, "%s[%zu]", field, *n), "(" SIG_ATTRIBUTED ")", error);
                if (r < 0)
                        return r;

                r = GROW(*array, allocated, *n);
                if (r < 0)
                        return r;

                (*array)[(*n)++] = TAKE_STRUCT(e);
        }
}

int sdloop_read_attributed_array(
                sd_bus_message *m,
                const char *field,
                size_t max_data,
                SdloopAttributed **ret,
                size_t *ret_n,
                sd_bus_error *error) {

        SdloopAttributed *a = NULL;
        size_t n = 0;
        int r;

        assert(m);
        assert(field);
        assert(ret);
        assert(ret_n);

        *ret = NULL;
        *ret_n = 0;

        r = sd_bus_message_enter_container(m, 'a', "(" SIG_ATTRIBUTED ")");
        if (r <= 0)
                return bus_read_failed(error, field, "a(" SIG_ATTRIBUTED ")", r);

        r = read_attributed_elements(m, field, max_data, &a, &n, error);
        if (r >= 0)
                r = exit_container(m, field, "a(" SIG_ATTRIBUTED ")", error);
        if (r < 0) {
                sdloop_attributed_array_free(a, n);
                return r;
        }

        *ret = a;
        *ret_n = n;
        return 0;
}

int sdloop_append_attributed_array(sd_bus_message *m, const SdloopAttributed *v, size_t n) {
        int r;

        assert(m);
        assert(v || n == 0);

        r = sd_bus_message_open_container(m, 'a', "(" SIG_ATTRIBUTED ")");
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                r = sd_bus_message_open_container(m, 'r', SIG_ATTRIBUTED);
                if (r < 0)
                        return r;

                r = sdloop_append_bytes(m, v[i].data.data, v[i].data.size);
                if (r < 0)
                        return r;

                r = sd_bus_message_append_basic(m, 'y', &v[i].oracle);
                if (r < 0)
                        return r;

                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }

        return sd_bus_message_close_container(m);
}

void sdloop_attributed_array_free(SdloopAttributed *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                attributed_done(v + i);
        free(v);
}

/* --- a(ussy): parsed observations --------------------------------------------------------------------- */

static void parsed_observation_done(SdloopParsedObservation *v) {
        free(v->value);
        free(v->juels_per_fee_coin);
        *v = (SdloopParsedObservation) {};
}

static int read_parsed_observation_elements(
                sd_bus_message *m,
                const char *field,
                SdloopParsedObservation **array,
                size_t *n,
                sd_bus_error *error) {

        size_t allocated = *n;
        char sub[FIELD_MAX];
        int r;

        for (;;) {
                _cleanup_(parsed_observation_done) SdloopParsedObservation e = {};

                if (sd_bus_message_at_end(m, false) > 0)
                        return 0;
                r = check_elements(error, field, *n, SDLOOP_ORACLES_MAX);
                if (r < 0)
                        return r;

                r = sd_bus_message_enter_container(m, 'r', SIG_PARSED_OBSERVATION);
                if (r < 0)
                        return bus_read_failed(error, fieldf(sub, "%s[%zu]", field, *n), "(" SIG_PARSED_OBSERVATION ")", r);
                if (r == 0)
                        return 0;

                r = sd_bus_message_read_basic(m, 'u', &e.timestamp);
                if (r <= 0)
                        return bus_read_failed(error, fieldf(sub, "%s[%zu].timestamp", field, *n), "u", r);

                r = sdloop_read_decimal(m, fieldf(sub, "%s[%zu].value", field, *n), &e.value, error);
                if (r < 0)
                        return r;

                r = sdloop_read_decimal(m, fieldf(sub, "%s[%zu].juels_per_fee_coin", field, *n), &e.juels_per_fee_coin, error);
                if (r < 0)
                        return r;

                r = sd_bus_message_read_basic(m, 'y', &e.observer);
                if (r <= 0)
                        return bus_read_failed(error, fieldf(sub, "%s[%zu].observer", field, *n), "y", r);

                r = exit_container(m, fieldf(sub, "%s[%zu]", field, *n), "(" SIG_PARSED_OBSERVATION ")", error);
                if (r < 0)
                        return r;

                r = GROW(*array, allocated, *n);
                if (r < 0)
                        return r;

                (*array)[(*n)++] = TAKE_STRUCT(e);
        }
}

int sdloop_read_parsed_observations(
                sd_bus_message *m,
                const char *field,
                SdloopParsedObservation **ret,
                size_t *ret_n,
                sd_bus_error *error) {

        SdloopParsedObservation *a = NULL;
        size_t n = 0;
        int r;

        assert(m);
        assert(field);
        assert(ret);
        assert(ret_n);

        *ret = NULL;
        *ret_n = 0;

        r = sd_bus_message_enter_container(m, 'a', "(" SIG_PARSED_OBSERVATION ")");
        if (r <= 0)
                return bus_read_failed(error, field, "a(" SIG_PARSED_OBSERVATION ")", r);

        r = read_parsed_observation_elements(m, field, &a, &n, error);
        if (r >= 0)
                r = exit_container(m, field, "a(" SIG_PARSED_OBSERVATION ")", error);
        if (r < 0) {
                sdloop_parsed_observations_free(a, n);
                return r;
        }

        *ret = a;
        *ret_n = n;
        return 0;
}

int sdloop_append_parsed_observations(sd_bus_message *m, const SdloopParsedObservation *v, size_t n) {
        int r;

        assert(m);
        assert(v || n == 0);

        r = sd_bus_message_open_container(m, 'a', "(" SIG_PARSED_OBSERVATION ")");
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                r = sd_bus_message_append(m, "(" SIG_PARSED_OBSERVATION ")",
                                          v[i].timestamp,
                                          strempty(v[i].value),
                                          strempty(v[i].juels_per_fee_coin),
                                          v[i].observer);
                if (r < 0)
                        return r;
        }

        return sd_bus_message_close_container(m);
}

void sdloop_parsed_observations_free(SdloopParsedObservation *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                parsed_observation_done(v + i);
        free(v);
}

/* --- ChainStatus, a(ssss) NodeStatus ------------------------------------------------------------------ */

int sdloop_read_chain_status(sd_bus_message *m, const char *field, SdloopChainStatus *ret, sd_bus_error *error) {
        _cleanup_(sdloop_chain_status_done) SdloopChainStatus v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_CHAIN_STATUS, error);
        if (r < 0)
                return r;

        r = read_string(m, fieldf(sub, "%s.id", field), &v.id, error);
        if (r < 0)
                return r;

        r = read_bool(m, fieldf(sub, "%s.enabled", field), &v.enabled, error);
        if (r < 0)
                return r;

        r = read_string(m, fieldf(sub, "%s.config", field), &v.config, error);
        if (r < 0)
                return r;

        r = exit_container(m, field, "(" SIG_CHAIN_STATUS ")", error);
        if (r < 0)
                return r;

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_chain_status(sd_bus_message *m, const SdloopChainStatus *v) {
        assert(m);
        assert(v);

        return sd_bus_message_append(m, "(" SIG_CHAIN_STATUS ")",
                                     strempty(v->id),
                                     (int) v->enabled,
                                     strempty(v->config));
}

void sdloop_chain_status_done(SdloopChainStatus *v) {
        if (!v)
                return;

        free(v->id);
        free(v->config);
        *v = (SdloopChainStatus) {};
}

static void node_status_done(SdloopNodeStatus *v) {
        free(v->chain_id);
        free(v->name);
        free(v->config);
        free(v->state);
        *v = (SdloopNodeStatus) {};
}

static int read_node_status_elements(
                sd_bus_message *m,
                const char *field,
                SdloopNodeStatus **array,
                size_t *n,
                sd_bus_error *error) {

        size_t allocated = *n;
        char sub[FIELD_MAX];
        int r;

        for (;;) {
                _cleanup_(node_status_done) SdloopNodeStatus e = {};
                const char *chain_id, *name, *config, *state;

                if (sd_bus_message_at_end(m, false) > 0)
                        return 0;
                r = check_elements(error, field, *n, SDLOOP_ARRAY_ELEMENTS_MAX);
                if (r < 0)
                        return r;

                r = sd_bus_message_read(m, "(" SIG_NODE_STATUS ")", &chain_id, &name, &config, &state);
                if (r < 0)
                        return bus_read_failed(error, fieldf(sub, "%s[%zu]", field, *n), "(" SIG_NODE_STATUS ")", r);
                if (r == 0)
                        return 0;

                e.chain_id = strdup(chain_id);
                e.name = strdup(name);
                e.config = strdup(config);
                e.state = strdup(state);
                if (!e.chain_id || !e.name || !e.config || !e.state)
                        return -ENOMEM;

                r = GROW(*array, allocated, *n);
                if (r < 0)
                        return r;

                (*array)[(*n)++] = TAKE_STRUCT(e);
        }
}

int sdloop_read_node_statuses(
                sd_bus_message *m,
                const char *field,
                SdloopNodeStatus **ret,
                size_t *ret_n,
                sd_bus_error *error) {

        SdloopNodeStatus *a = NULL;
        size_t n = 0;
        int r;

        assert(m);
        assert(field);
        assert(ret);
        assert(ret_n);

        *ret = NULL;
        *ret_n = 0;

        r = sd_bus_message_enter_container(m, 'a', "(" SIG_NODE_STATUS ")");
        if (r <= 0)
                return bus_read_failed(error, field, "a(" SIG_NODE_STATUS ")", r);

        r = read_node_status_elements(m, field, &a, &n, error);
        if (r >= 0)
                r = exit_container(m, field, "a(" SIG_NODE_STATUS ")", error);
        if (r < 0) {
                sdloop_node_statuses_free(a, n);
                return r;
        }

        *ret = a;
        *ret_n = n;
        return 0;
}

int sdloop_append_node_statuses(sd_bus_message *m, const SdloopNodeStatus *v, size_t n) {
        int r;

        assert(m);
        assert(v || n == 0);

        r = sd_bus_message_open_container(m, 'a', "(" SIG_NODE_STATUS ")");
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                r = sd_bus_message_append(m, "(" SIG_NODE_STATUS ")",
                                          strempty(v[i].chain_id),
                                          strempty(v[i].name),
                                          strempty(v[i].config),
                                          strempty(v[i].state));
                if (r < 0)
                        return r;
        }

        return sd_bus_message_close_container(m);
}

void sdloop_node_statuses_free(SdloopNodeStatus *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                node_status_done(v + i);
        free(v);
}

/* --- OnchainConfig ------------------------------------------------------------------------------------ */

int sdloop_read_onchain_config(sd_bus_message *m, const char *field, SdloopOnchainConfig *ret, sd_bus_error *error) {
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_ONCHAIN_CONFIG, error);
        if (r < 0)
                return r;

        r = sdloop_read_decimal(m, fieldf(sub, "%s.min", field), &v.min, error);
        if (r < 0)
                return r;

        r = sdloop_read_decimal(m, fieldf(sub, "%s.max", field), &v.max, error);
        if (r < 0)
                return r;

        r = exit_container(m, field, "(" SIG_ONCHAIN_CONFIG ")", error);
        if (r < 0)
                return r;

        if (sdloop_decimal_compare(v.min, v.max) > 0)
                return sdloop_error_invalid(error, field, "min %s must not be greater than max %s",
                                            SDLOOP_QUOTE(v.min), SDLOOP_QUOTE(v.max));

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_onchain_config(sd_bus_message *m, const SdloopOnchainConfig *v) {
        assert(m);
        assert(v);

        return sd_bus_message_append(m, "(" SIG_ONCHAIN_CONFIG ")", strempty(v->min), strempty(v->max));
}

void sdloop_onchain_config_done(SdloopOnchainConfig *v) {
        if (!v)
                return;

        free(v->min);
        free(v->max);
        *v = (SdloopOnchainConfig) {};
}
