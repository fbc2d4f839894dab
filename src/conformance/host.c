/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The host's side for a plugin under test that is not the static one: a keystore that signs anything, two
 * data sources, an error log that takes any message, and a median provider of the tool's own (the
 * contract's answers fixed, a plain-text report codec) so that a real median plugin can be checked end to
 * end: the median a report carries must be the one the plugin observed. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "static.h"
#include "tool.h"

#define REPORT_MAGIC "sdloop-conformance report\n"
#define ONCHAIN_MIN  "-100000000000000000000"
#define ONCHAIN_MAX  "100000000000000000000"
#define N_ORACLES    4U

static const uint8_t tool_digest[SDLOOP_DIGEST_SIZE] = { 0x00, 0x63, 0xc0, 0x4f, [31] = 0x01 };

/* libocr's NumericalMedianConfigProto: alpha_report 0.5 %, alpha_accept 0.1 %, deltaC 1 h. */
static const uint8_t offchain_config[] = {
        0x10, 0xc0, 0x96, 0xb1, 0x02,                         /* 2: alpha_report_ppb 5000000 */
        0x20, 0xc0, 0x84, 0x3d,                               /* 4: alpha_accept_ppb 1000000 */
        0x28, 0x80, 0xc0, 0xe2, 0x85, 0xe3, 0x68,             /* 5: delta_c_nanoseconds 3600e9 */
};
static const char onchain_config[] = ONCHAIN_MIN ":" ONCHAIN_MAX;

const SdloopReportingPluginConfig tool_reporting_plugin_config = {
        .digest = { 0x00, 0x63, 0xc0, 0x4f, [31] = 0x01 },
        .oracle_id = 0,
        .n = N_ORACLES,
        .f = 1,
        .onchain_config = { (uint8_t *) onchain_config, sizeof(onchain_config) - 1 },
        .offchain_config = { (uint8_t *) offchain_config, sizeof(offchain_config) },
        .estimated_round_interval_usec = USEC_PER_SEC,
        .max_duration_query_usec = USEC_PER_SEC,
        .max_duration_observation_usec = USEC_PER_SEC,
        .max_duration_report_usec = USEC_PER_SEC,
        .max_duration_should_accept_usec = USEC_PER_SEC,
        .max_duration_should_transmit_usec = USEC_PER_SEC,
};

const SdloopReportTimestamp tool_timestamp = {
        .digest = { 0x00, 0x63, 0xc0, 0x4f, [31] = 0x01 },
        .epoch = 1,
        .round = 1,
};

/* --- keystore, data sources, error log -------------------------------------------------------------- */

static int keystore_accounts(void *userdata, char ***ret, sd_bus_error *error) {
        char **l = new0(char *, 2);

        if (!l || !(l[0] = strdup("testaccount"))) {
                free(l);
                return -ENOMEM;
        }
        *ret = l;
        return 0;
}

/* Not a real signature: 64 bytes that depend on every byte of @data and the account. */
static int keystore_sign(void *userdata, const char *account, const SdloopBytes *data, SdloopBytes *ret,
                         sd_bus_error *error) {
        uint8_t sig[64] = {};
        uint32_t h = 2166136261U;

        for (const char *a = account; *a; a++)
                h = (h ^ (uint8_t) *a) * 16777619U;
        for (size_t i = 0; i < sizeof(sig); i++) {
                for (size_t k = i; k < data->size; k += sizeof(sig))
                        h = (h ^ data->data[k]) * 16777619U;
                sig[i] = (uint8_t) (h >> 24);
        }
        return sdloop_bytes_copy(ret, sig, sizeof(sig));
}

static const SdloopKeystoreOps keystore_ops = { .accounts = keystore_accounts, .sign = keystore_sign };

int tool_host_export_keystore(ToolHost *h, SdloopPeer *peer) {
        int r;

        r = sdloop_object_new_at(peer, NULL, STATIC_KEYSTORE_PATH, NULL, h, &h->keystore);
        if (r < 0)
                return r;
        return sdloop_keystore_export(h->keystore, &keystore_ops, h);
}

static int observe_value(void *userdata, const SdloopReportTimestamp *ts, char **ret, sd_bus_error *error) {
        ToolHost *h = userdata;

        h->n_observes++;
        *ret = strdup(TOOL_VALUE);
        return *ret ? 0 : -ENOMEM;
}

static int observe_juels(void *userdata, const SdloopReportTimestamp *ts, char **ret, sd_bus_error *error) {
        *ret = strdup(TOOL_JUELS);
        return *ret ? 0 : -ENOMEM;
}

static int save_error(void *userdata, const char *message, sd_bus_error *error) {
        fprintf(stderr, "sdloop-conformance: the plugin saved an error: %s\n", message);
        return 0;
}

/* --- the reference median provider ----------------------------------------------------------------- */

static int config_digest(void *userdata, const SdloopContractConfig *config, uint8_t ret[static SDLOOP_DIGEST_SIZE],
                         sd_bus_error *error) {
        memcpy(ret, tool_digest, SDLOOP_DIGEST_SIZE);
        return 0;
}

static int config_digest_prefix(void *userdata, uint16_t *ret, sd_bus_error *error) {
        *ret = (uint16_t) (tool_digest[0] << 8 | tool_digest[1]);
        return 0;
}

static int latest_config_details(void *userdata, uint64_t *ret_block, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                 sd_bus_error *error) {
        *ret_block = 1;
        memcpy(ret_digest, tool_digest, SDLOOP_DIGEST_SIZE);
        return 0;
}

static int latest_config(void *userdata, uint64_t changed_in_block, SdloopContractConfig *ret, sd_bus_error *error) {
        SdloopContractConfig c = { .config_count = 1, .f = 1, .offchain_config_version = 1 };
        int r;

        memcpy(c.digest, tool_digest, SDLOOP_DIGEST_SIZE);
        c.signers = new0(SdloopBytes, N_ORACLES);
        c.transmitters = new0(char *, N_ORACLES + 1);
        if (!c.signers || !c.transmitters) {
                r = -ENOMEM;
                goto fail;
        }
        c.n_signers = N_ORACLES;
        for (unsigned i = 0; i < N_ORACLES; i++) {
                uint8_t key[32] = { [31] = (uint8_t) (i + 1) };

                r = sdloop_bytes_copy(&c.signers[i], key, sizeof(key));
                if (r < 0)
                        goto fail;
                if (asprintf(&c.transmitters[i], "transmitter-%u", i) < 0) {
                        c.transmitters[i] = NULL;
                        r = -ENOMEM;
                        goto fail;
                }
        }
        r = sdloop_bytes_copy(&c.onchain_config, onchain_config, sizeof(onchain_config) - 1);
        if (r >= 0)
                r = sdloop_bytes_copy(&c.offchain_config, offchain_config, sizeof(offchain_config));
        if (r < 0)
                goto fail;
        *ret = c;
        return 0;
fail:
        sdloop_contract_config_done(&c);
        return r;
}

static int latest_block_height(void *userdata, uint64_t *ret, sd_bus_error *error) {
        *ret = 1;
        return 0;
}

static int transmit(void *userdata, const SdloopReportContext *ctx, const SdloopBytes *report,
                    const SdloopAttributed *signatures, size_t n_signatures, sd_bus_error *error) {
        ToolHost *h = userdata;

        h->n_transmits++;
        return 0;
}

static int latest_config_digest_and_epoch(void *userdata, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                          uint32_t *ret_epoch, sd_bus_error *error) {
        memcpy(ret_digest, tool_digest, SDLOOP_DIGEST_SIZE);
        *ret_epoch = 0;
        return 0;
}

static int from_account(void *userdata, char **ret, sd_bus_error *error) {
        *ret = strdup("testaccount");
        return *ret ? 0 : -ENOMEM;
}

static int compare_observations(const void *a, const void *b) {
        const SdloopParsedObservation *x = a, *y = b;

        return sdloop_decimal_compare(x->value, y->value);
}

/* libocr's median report: the observations sorted by value, the one in the middle (n/2). */
static int build_report(void *userdata, const SdloopParsedObservation *obs, size_t n, SdloopBytes *ret,
                        sd_bus_error *error) {
        _cleanup_free_ SdloopParsedObservation *sorted = NULL;
        _cleanup_free_ char *s = NULL;
        int k;

        if (n == 0)
                return sdloop_error_invalid(error, "observations", "no observations");
        sorted = new0(SdloopParsedObservation, n);
        if (!sorted)
                return -ENOMEM;
        memcpy(sorted, obs, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), compare_observations);
        k = asprintf(&s, REPORT_MAGIC "median=%s\njuels=%s\nobservers=%zu\n", sorted[n / 2].value,
                     sorted[n / 2].juels_per_fee_coin, n);
        if (k < 0)
                return -ENOMEM;
        return sdloop_bytes_copy(ret, s, (size_t) k);
}

int tool_report_median(const SdloopBytes *report, char **ret) {
        _cleanup_free_ char *s = NULL;
        const char *m, *e;

        if (report->size < strlen(REPORT_MAGIC) || memcmp(report->data, REPORT_MAGIC, strlen(REPORT_MAGIC)) != 0)
                return -EINVAL;
        s = strndup((const char *) report->data, report->size);
        if (!s)
                return -ENOMEM;
        m = strstr(s, "\nmedian=");
        if (!m)
                return -EINVAL;
        m += strlen("\nmedian=");
        e = strchr(m, '\n');
        if (!e)
                return -EINVAL;
        *ret = strndup(m, (size_t) (e - m));
        return *ret ? 0 : -ENOMEM;
}

static int median_from_report(void *userdata, const SdloopBytes *report, char **ret, sd_bus_error *error) {
        int r = tool_report_median(report, ret);

        if (r == -EINVAL)
                return sdloop_error_invalid(error, "report", "not a report of this codec");
        return r;
}

static int max_report_length(void *userdata, int64_t n, int64_t *ret, sd_bus_error *error) {
        if (n <= 0 || n > 256)
                return sdloop_error_invalid(error, "n", "%" PRIi64 " oracles, expected 1…256", n);
        *ret = 256;
        return 0;
}

static int latest_transmission_details(void *userdata, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                       uint32_t *ret_epoch, uint8_t *ret_round, char **ret_answer,
                                       int64_t *ret_timestamp_usec, sd_bus_error *error) {
        /* Configured with the config the tool hands out, nothing transmitted yet. */
        memcpy(ret_digest, tool_digest, SDLOOP_DIGEST_SIZE);
        *ret_epoch = 0;
        *ret_round = 0;
        *ret_timestamp_usec = 0;
        *ret_answer = strdup("0");
        return *ret_answer ? 0 : -ENOMEM;
}

static int latest_round_requested(void *userdata, uint64_t lookback_usec, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                  uint32_t *ret_epoch, uint8_t *ret_round, sd_bus_error *error) {
        memcpy(ret_digest, tool_digest, SDLOOP_DIGEST_SIZE);
        *ret_epoch = 0;
        *ret_round = 0;
        return 0;
}

static int onchain_encode(void *userdata, const SdloopOnchainConfig *c, SdloopBytes *ret, sd_bus_error *error) {
        _cleanup_free_ char *s = NULL;
        int k;

        k = asprintf(&s, "%s:%s", c->min, c->max);
        if (k < 0)
                return -ENOMEM;
        return sdloop_bytes_copy(ret, s, (size_t) k);
}

static int onchain_decode(void *userdata, const SdloopBytes *encoded, SdloopOnchainConfig *ret, sd_bus_error *error) {
        _cleanup_free_ char *s = NULL;
        char *colon;

        s = strndup((const char *) encoded->data, encoded->size);
        if (!s)
                return -ENOMEM;
        colon = strchr(s, ':');
        if (!colon)
                return sdloop_error_invalid(error, "encoded", "not \"min:max\"");
        *colon = 0;
        if (!sdloop_decimal_is_valid(s) || !sdloop_decimal_is_valid(colon + 1))
                return sdloop_error_invalid(error, "encoded", "min or max is not a decimal");
        ret->min = strdup(s);
        ret->max = strdup(colon + 1);
        if (!ret->min || !ret->max) {
                sdloop_onchain_config_done(ret);
                return -ENOMEM;
        }
        return 0;
}

static const SdloopOffchainConfigDigesterOps digester_ops = {
        .config_digest = config_digest, .config_digest_prefix = config_digest_prefix,
};
static const SdloopContractConfigTrackerOps tracker_ops = {
        .latest_config_details = latest_config_details, .latest_config = latest_config,
        .latest_block_height = latest_block_height,
};
static const SdloopContractTransmitterOps transmitter_ops = {
        .transmit = transmit, .latest_config_digest_and_epoch = latest_config_digest_and_epoch,
        .from_account = from_account,
};
static const SdloopReportCodecOps codec_ops = {
        .build_report = build_report, .median_from_report = median_from_report,
        .max_report_length = max_report_length,
};
static const SdloopMedianContractOps contract_ops = {
        .latest_transmission_details = latest_transmission_details, .latest_round_requested = latest_round_requested,
};
static const SdloopOnchainConfigCodecOps onchain_ops = { .encode = onchain_encode, .decode = onchain_decode };
static const SdloopDataSourceOps value_ops = { .observe = observe_value };
static const SdloopDataSourceOps juels_ops = { .observe = observe_juels };
static const SdloopErrorLogOps error_log_ops = { .save_error = save_error };

int tool_host_export_median(ToolHost *h, SdloopPeer *peer) {
        int r;

        r = sdloop_object_new(peer, NULL, "host/data_source", NULL, h, &h->data_source);
        if (r >= 0)
                r = sdloop_data_source_export(h->data_source, &value_ops, h);
        if (r >= 0)
                r = sdloop_object_new(peer, NULL, "host/data_source", NULL, h, &h->juels_data_source);
        if (r >= 0)
                r = sdloop_data_source_export(h->juels_data_source, &juels_ops, h);
        if (r >= 0)
                r = sdloop_object_new(peer, NULL, "host/error_log", NULL, h, &h->error_log);
        if (r >= 0)
                r = sdloop_error_log_export(h->error_log, &error_log_ops, h);
        if (r >= 0)
                r = sdloop_object_new(peer, NULL, "host/provider", NULL, h, &h->provider);
        if (r >= 0)
                r = sdloop_offchain_config_digester_export(h->provider, &digester_ops, h);
        if (r >= 0)
                r = sdloop_contract_config_tracker_export(h->provider, &tracker_ops, h);
        if (r >= 0)
                r = sdloop_contract_transmitter_export(h->provider, &transmitter_ops, h);
        if (r >= 0)
                r = sdloop_report_codec_export(h->provider, &codec_ops, h);
        if (r >= 0)
                r = sdloop_median_contract_export(h->provider, &contract_ops, h);
        if (r >= 0)
                r = sdloop_onchain_config_codec_export(h->provider, &onchain_ops, h);
        return r;
}

void tool_host_done(ToolHost *h) {
        sdloop_object_close(h->keystore);
        sdloop_object_close(h->data_source);
        sdloop_object_close(h->juels_data_source);
        sdloop_object_close(h->error_log);
        sdloop_object_close(h->provider);
        h->keystore = h->data_source = h->juels_data_source = h->error_log = h->provider = NULL;
}
