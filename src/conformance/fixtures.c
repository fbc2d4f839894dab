/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"

/* The values below are LOOP's (pkg/loop/internal/test), except where our contract is stricter than
 * protobuf; each such place says so. */

const uint8_t fixture_config_digest[SDLOOP_DIGEST_SIZE] = FIXTURE_CONFIG_DIGEST_DATA;

/* LOOP has one signer, transmitters "foo" and "bar", and F 11. Our ContractConfig reader insists on one
 * transmitter per signer and on 3f < n, so: four signers (16 bytes ending in 1…4), four transmitters
 * (LOOP's two and two more) and F 1. */
static uint8_t signer_1[] = FIXTURE_SIGNERS_0_DATA, signer_2[] = FIXTURE_SIGNERS_1_DATA,
               signer_3[] = FIXTURE_SIGNERS_2_DATA, signer_4[] = FIXTURE_SIGNERS_3_DATA;
static SdloopBytes signers[] = {
        { signer_1, sizeof(signer_1) },
        { signer_2, sizeof(signer_2) },
        { signer_3, sizeof(signer_3) },
        { signer_4, sizeof(signer_4) },
};
_Static_assert(ELEMENTSOF(signers) == FIXTURE_SIGNERS_N, "signers of fixtures.json");
static char *transmitters[FIXTURE_TRANSMITTERS_N + 1] = FIXTURE_TRANSMITTERS; /* NULL-terminated */
static uint8_t contract_onchain_config[] = FIXTURE_CONTRACT_ONCHAIN_CONFIG_DATA;
static uint8_t contract_offchain_config[] = FIXTURE_CONTRACT_OFFCHAIN_CONFIG_DATA;

const SdloopContractConfig fixture_contract_config = {
        .digest = FIXTURE_CONFIG_DIGEST_DATA,
        .config_count = FIXTURE_CONFIG_COUNT,
        .signers = signers,
        .n_signers = ELEMENTSOF(signers),
        .transmitters = transmitters,
        .f = FIXTURE_CONTRACT_F,
        .onchain_config = { contract_onchain_config, sizeof(contract_onchain_config) },
        .offchain_config_version = FIXTURE_OFFCHAIN_CONFIG_VERSION,
        .offchain_config = { contract_offchain_config, sizeof(contract_offchain_config) },
};

static uint8_t encoded_data[] = FIXTURE_ENCODED_DATA;
static uint8_t signed_data[] = FIXTURE_SIGNED_DATA;
static uint8_t query_data[] = FIXTURE_QUERY_DATA;
static uint8_t observation_data[] = FIXTURE_OBSERVATION_DATA;
static uint8_t report_data[] = FIXTURE_REPORT_DATA;
static uint8_t signature_data[] = FIXTURE_SIGNATURE_DATA;

const SdloopBytes fixture_encoded = { encoded_data, sizeof(encoded_data) };
const SdloopBytes fixture_signed = { signed_data, sizeof(signed_data) };
const SdloopBytes fixture_query = { query_data, sizeof(query_data) };
const SdloopBytes fixture_observation = { observation_data, sizeof(observation_data) };
const SdloopBytes fixture_report = { report_data, sizeof(report_data) };

const SdloopReportTimestamp fixture_report_timestamp = {
        .digest = FIXTURE_CONFIG_DIGEST_DATA,
        .epoch = FIXTURE_EPOCH,
        .round = FIXTURE_ROUND,
};

const SdloopReportContext fixture_report_context = {
        .timestamp = {
                .digest = FIXTURE_CONFIG_DIGEST_DATA,
                .epoch = FIXTURE_EPOCH,
                .round = FIXTURE_ROUND,
        },
        .extra_hash = FIXTURE_EXTRA_HASH_DATA,
};

const SdloopAttributed fixture_observations[FIXTURE_N_OBSERVATIONS] = {
        { .data = { observation_data, sizeof(observation_data) }, .oracle = FIXTURE_OBSERVATION_ORACLE },
};

const SdloopAttributed fixture_signatures[FIXTURE_N_SIGNATURES] = {
        { .data = { signature_data, sizeof(signature_data) }, .oracle = FIXTURE_SIGNATURE_ORACLE },
};

const SdloopParsedObservation fixture_parsed_observations[FIXTURE_N_PARSED_OBSERVATIONS] = {
        { .timestamp = FIXTURE_PARSED_TIMESTAMP, .value = (char *) FIXTURE_PARSED_VALUE,
          .juels_per_fee_coin = (char *) FIXTURE_PARSED_JUELS_PER_FEE_COIN, .observer = FIXTURE_PARSED_OBSERVER },
};

/* LOOP's relay config is 43 opaque bytes and its plugin config 101; both must be JSON here. */
const SdloopRelayArgs fixture_relay_args = {
        .external_job_id = (char *) FIXTURE_EXTERNAL_JOB_ID,
        .job_id = FIXTURE_JOB_ID,
        .contract_id = (char *) FIXTURE_CONTRACT_ID,
        .new = FIXTURE_RELAY_NEW,
        .relay_config = (char *) FIXTURE_RELAY_CONFIG,
        .provider_type = (char *) FIXTURE_PROVIDER_TYPE_MEDIAN,
};

const SdloopPluginArgs fixture_plugin_args = {
        .transmitter_id = (char *) FIXTURE_TRANSMITTER_ID,
        .plugin_config = (char *) FIXTURE_PLUGIN_CONFIG,
};

/* LOOP sends OracleID 10, N 12, F 42. Our ReportingPluginConfig reader requires f < n and oracle_id < n:
 * F becomes 3 (3f < n, as OCR wants it); OracleID and N stay. Durations are LOOP's, in µs. */
static uint8_t rp_onchain_config[] = FIXTURE_RP_ONCHAIN_CONFIG_DATA;
static uint8_t rp_offchain_config[] = FIXTURE_RP_OFFCHAIN_CONFIG_DATA;

const SdloopReportingPluginConfig fixture_reporting_plugin_config = {
        .digest = FIXTURE_CONFIG_DIGEST_DATA,
        .oracle_id = FIXTURE_RP_ORACLE_ID,
        .n = FIXTURE_RP_N,
        .f = FIXTURE_RP_F,
        .onchain_config = { rp_onchain_config, sizeof(rp_onchain_config) },
        .offchain_config = { rp_offchain_config, sizeof(rp_offchain_config) },
        .estimated_round_interval_usec = FIXTURE_ESTIMATED_ROUND_INTERVAL_USEC,         /* 1 s */
        .max_duration_query_usec = FIXTURE_MAX_DURATION_QUERY_USEC,                     /* 1 h */
        .max_duration_observation_usec = FIXTURE_MAX_DURATION_OBSERVATION_USEC,         /* 1 ms */
        .max_duration_report_usec = FIXTURE_MAX_DURATION_REPORT_USEC,                   /* 1 µs */
        .max_duration_should_accept_usec = FIXTURE_MAX_DURATION_SHOULD_ACCEPT_USEC,     /* 10 s */
        .max_duration_should_transmit_usec = FIXTURE_MAX_DURATION_SHOULD_TRANSMIT_USEC, /* 1 min */
};

const SdloopReportingPluginInfo fixture_reporting_plugin_info = {
        .name = (char *) FIXTURE_INFO_NAME,
        .unique_reports = FIXTURE_INFO_UNIQUE_REPORTS,
        .max_query_length = FIXTURE_INFO_MAX_QUERY_LENGTH,
        .max_observation_length = FIXTURE_INFO_MAX_OBSERVATION_LENGTH,
        .max_report_length = FIXTURE_INFO_MAX_REPORT_LENGTH,
};

/* LOOP leaves Enabled false; true shows that the flag crosses. */
const SdloopChainStatus fixture_chain_status = {
        .id = (char *) FIXTURE_CHAIN_ID,
        .enabled = FIXTURE_CHAIN_ENABLED,
        .config = (char *) FIXTURE_CONFIG_TOML,
};

/* LOOP leaves Name empty; we give each node the name its config carries. */
_Static_assert(FIXTURE_NODE_NAMES_N == 2 && FIXTURE_NODE_CHAIN_IDS_N == 2 && FIXTURE_NODE_CONFIGS_N == 2 &&
               FIXTURE_NODE_STATES_N == 2, "nodes of fixtures.json");
#define NODE(i) {                                                \
                .chain_id = (char *) FIXTURE_NODE_CHAIN_IDS_##i, \
                .name = (char *) FIXTURE_NODE_NAMES_##i,         \
                .config = (char *) FIXTURE_NODE_CONFIGS_##i,     \
                .state = (char *) FIXTURE_NODE_STATES_##i,       \
        }
const SdloopNodeStatus fixture_nodes[FIXTURE_N_NODES] = { NODE(0), NODE(1) };

const SdloopOnchainConfig fixture_onchain_config = {
        .min = (char *) FIXTURE_ONCHAIN_MIN,
        .max = (char *) FIXTURE_ONCHAIN_MAX,
};

/* --- comparisons ------------------------------------------------------------------------------------ */

/* Field paths such as "contract_config.signers[3]". */
#define FIELD_MAX 256

static _printf_(2, 3) const char *subfield(char buf[static FIELD_MAX], const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(buf, FIELD_MAX, format, ap);
        va_end(ap);
        return buf;
}

/* Up to 48 bytes in hex, then "…", for messages. */
static const char *hex(char buf[static 128], const void *data, size_t size) {
        const uint8_t *p = data;
        size_t n = MIN(size, (size_t) 48);
        char *q = buf;

        for (size_t i = 0; i < n; i++)
                q += sprintf(q, "%02x", p[i]);
        if (n < size)
                q = stpcpy(q, "...");
        *q = 0;
        return buf;
}

int fixture_check_string(const char *expected, const char *got, const char *field, sd_bus_error *error) {
        if (streq_ptr(expected, got))
                return 0;
        if (!got)
                return sdloop_error_invalid(error, field, "expected \"%s\", got nothing", expected);
        return sdloop_error_invalid(error, field, "expected \"%.80s\", got \"%.80s%s\"", expected, got,
                                    strlen(got) > 80 ? "..." : "");
}

int fixture_check_uint(uint64_t expected, uint64_t got, const char *field, sd_bus_error *error) {
        if (expected == got)
                return 0;
        return sdloop_error_invalid(error, field, "expected %" PRIu64 ", got %" PRIu64, expected, got);
}

int fixture_check_int(int64_t expected, int64_t got, const char *field, sd_bus_error *error) {
        if (expected == got)
                return 0;
        return sdloop_error_invalid(error, field, "expected %" PRIi64 ", got %" PRIi64, expected, got);
}

int fixture_check_bool(bool expected, bool got, const char *field, sd_bus_error *error) {
        if (expected == got)
                return 0;
        return sdloop_error_invalid(error, field, "expected %s, got %s", expected ? "true" : "false",
                                    got ? "true" : "false");
}

int fixture_check_bytes(const SdloopBytes *expected, const void *got, size_t size, const char *field,
                        sd_bus_error *error) {
        char a[128], b[128];

        if (expected->size == size && (size == 0 || memcmp(expected->data, got, size) == 0))
                return 0;
        return sdloop_error_invalid(error, field, "expected %zu bytes %s, got %zu bytes %s", expected->size,
                                    hex(a, expected->data, expected->size), size, hex(b, got, size));
}

int fixture_check_digest(const uint8_t *got, const char *field, sd_bus_error *error) {
        const SdloopBytes expected = { (uint8_t *) fixture_config_digest, SDLOOP_DIGEST_SIZE };

        return fixture_check_bytes(&expected, got, SDLOOP_DIGEST_SIZE, field, error);
}

int fixture_check_strv(const char * const *expected, char * const *got, const char *field, sd_bus_error *error) {
        char sub[FIELD_MAX];
        size_t i;
        int r;

        for (i = 0; expected[i]; i++) {
                if (!got || !got[i])
                        return sdloop_error_invalid(error, field, "expected %zu entries, got %zu",
                                                    strv_length((char * const *) expected), i);
                r = fixture_check_string(expected[i], got[i], subfield(sub, "%s[%zu]", field, i), error);
                if (r < 0)
                        return r;
        }
        if (got && got[i])
                return sdloop_error_invalid(error, field, "expected %zu entries, got %zu", i,
                                            strv_length(got));
        return 0;
}

int fixture_check_report_timestamp(const SdloopReportTimestamp *got, const char *field, sd_bus_error *error) {
        char sub[FIELD_MAX];
        int r;

        r = fixture_check_digest(got->digest, subfield(sub, "%s.digest", field), error);
        if (r < 0)
                return r;
        r = fixture_check_uint(FIXTURE_EPOCH, got->epoch, subfield(sub, "%s.epoch", field), error);
        if (r < 0)
                return r;
        return fixture_check_uint(FIXTURE_ROUND, got->round, subfield(sub, "%s.round", field), error);
}

int fixture_check_report_context(const SdloopReportContext *got, const char *field, sd_bus_error *error) {
        const SdloopBytes extra_hash = {
                (uint8_t *) fixture_report_context.extra_hash, SDLOOP_DIGEST_SIZE
        };
        char sub[FIELD_MAX];
        int r;

        r = fixture_check_report_timestamp(&got->timestamp, subfield(sub, "%s.timestamp", field), error);
        if (r < 0)
                return r;
        return fixture_check_bytes(&extra_hash, got->extra_hash, SDLOOP_DIGEST_SIZE,
                                   subfield(sub, "%s.extra_hash", field), error);
}

int fixture_check_contract_config(const SdloopContractConfig *got, const char *field, sd_bus_error *error) {
        const SdloopContractConfig *e = &fixture_contract_config;
        char sub[FIELD_MAX];
        int r;

        r = fixture_check_digest(got->digest, subfield(sub, "%s.digest", field), error);
        if (r < 0)
                return r;
        r = fixture_check_uint(e->config_count, got->config_count, subfield(sub, "%s.config_count", field), error);
        if (r < 0)
                return r;
        if (got->n_signers != e->n_signers)
                return sdloop_error_invalid(error, subfield(sub, "%s.signers", field), "expected %zu, got %zu",
                                            e->n_signers, got->n_signers);
        for (size_t i = 0; i < e->n_signers; i++) {
                r = fixture_check_bytes(&e->signers[i], got->signers[i].data, got->signers[i].size,
                                        subfield(sub, "%s.signers[%zu]", field, i), error);
                if (r < 0)
                        return r;
        }
        r = fixture_check_strv((const char * const *) e->transmitters, got->transmitters,
                               subfield(sub, "%s.transmitters", field), error);
        if (r < 0)
                return r;
        r = fixture_check_uint(e->f, got->f, subfield(sub, "%s.f", field), error);
        if (r < 0)
                return r;
        r = fixture_check_bytes(&e->onchain_config, got->onchain_config.data, got->onchain_config.size,
                                subfield(sub, "%s.onchain_config", field), error);
        if (r < 0)
                return r;
        r = fixture_check_uint(e->offchain_config_version, got->offchain_config_version,
                               subfield(sub, "%s.offchain_config_version", field), error);
        if (r < 0)
                return r;
        return fixture_check_bytes(&e->offchain_config, got->offchain_config.data, got->offchain_config.size,
                                   subfield(sub, "%s.offchain_config", field), error);
}

int fixture_check_attributed(const SdloopAttributed *expected, size_t n_expected, const SdloopAttributed *got,
                             size_t n_got, const char *field, sd_bus_error *error) {
        char sub[FIELD_MAX];
        int r;

        if (n_expected != n_got)
                return sdloop_error_invalid(error, field, "expected %zu entries, got %zu", n_expected, n_got);
        for (size_t i = 0; i < n_expected; i++) {
                r = fixture_check_bytes(&expected[i].data, got[i].data.data, got[i].data.size,
                                        subfield(sub, "%s[%zu].data", field, i), error);
                if (r < 0)
                        return r;
                r = fixture_check_uint(expected[i].oracle, got[i].oracle, subfield(sub, "%s[%zu].oracle", field, i),
                                       error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int fixture_check_parsed_observations(const SdloopParsedObservation *got, size_t n, const char *field,
                                      sd_bus_error *error) {
        char sub[FIELD_MAX];
        int r;

        if (n != FIXTURE_N_PARSED_OBSERVATIONS)
                return sdloop_error_invalid(error, field, "expected %u entries, got %zu",
                                            FIXTURE_N_PARSED_OBSERVATIONS, n);
        for (size_t i = 0; i < n; i++) {
                const SdloopParsedObservation *e = &fixture_parsed_observations[i];

                r = fixture_check_uint(e->timestamp, got[i].timestamp, subfield(sub, "%s[%zu].timestamp", field, i),
                                       error);
                if (r < 0)
                        return r;
                r = fixture_check_string(e->value, got[i].value, subfield(sub, "%s[%zu].value", field, i), error);
                if (r < 0)
                        return r;
                r = fixture_check_string(e->juels_per_fee_coin, got[i].juels_per_fee_coin,
                                         subfield(sub, "%s[%zu].juels_per_fee_coin", field, i), error);
                if (r < 0)
                        return r;
                r = fixture_check_uint(e->observer, got[i].observer, subfield(sub, "%s[%zu].observer", field, i),
                                       error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int fixture_check_relay_args(const SdloopRelayArgs *got, const char *field, sd_bus_error *error) {
        const SdloopRelayArgs *e = &fixture_relay_args;
        char sub[FIELD_MAX];
        int r;

        /* A UUID may come in either case. */
        if (!got->external_job_id || strcasecmp(e->external_job_id, got->external_job_id) != 0)
                return fixture_check_string(e->external_job_id, got->external_job_id,
                                            subfield(sub, "%s.external_job_id", field), error);
        r = fixture_check_int(e->job_id, got->job_id, subfield(sub, "%s.job_id", field), error);
        if (r < 0)
                return r;
        r = fixture_check_string(e->contract_id, got->contract_id, subfield(sub, "%s.contract_id", field), error);
        if (r < 0)
                return r;
        r = fixture_check_bool(e->new, got->new, subfield(sub, "%s.new", field), error);
        if (r < 0)
                return r;
        return fixture_check_string(e->relay_config, got->relay_config, subfield(sub, "%s.relay_config", field),
                                    error);
}

int fixture_check_plugin_args(const SdloopPluginArgs *got, const char *field, sd_bus_error *error) {
        char sub[FIELD_MAX];
        int r;

        r = fixture_check_string(fixture_plugin_args.transmitter_id, got->transmitter_id,
                                 subfield(sub, "%s.transmitter_id", field), error);
        if (r < 0)
                return r;
        return fixture_check_string(fixture_plugin_args.plugin_config, got->plugin_config,
                                    subfield(sub, "%s.plugin_config", field), error);
}

int fixture_check_reporting_plugin_config(const SdloopReportingPluginConfig *got, const char *field,
                                          sd_bus_error *error) {
        const SdloopReportingPluginConfig *e = &fixture_reporting_plugin_config;
#define NUMBER(field) { #field, e->field, got->field }
        const struct {
                const char *name;
                uint64_t expected, got;
        } numbers[] = {
                NUMBER(oracle_id),
                NUMBER(n),
                NUMBER(f),
                NUMBER(estimated_round_interval_usec),
                NUMBER(max_duration_query_usec),
                NUMBER(max_duration_observation_usec),
                NUMBER(max_duration_report_usec),
                NUMBER(max_duration_should_accept_usec),
                NUMBER(max_duration_should_transmit_usec),
        };
#undef NUMBER
        char sub[FIELD_MAX];
        int r;

        r = fixture_check_digest(got->digest, subfield(sub, "%s.digest", field), error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(numbers); i++) {
                r = fixture_check_uint(numbers[i].expected, numbers[i].got,
                                       subfield(sub, "%s.%s", field, numbers[i].name), error);
                if (r < 0)
                        return r;
        }
        r = fixture_check_bytes(&e->onchain_config, got->onchain_config.data, got->onchain_config.size,
                                subfield(sub, "%s.onchain_config", field), error);
        if (r < 0)
                return r;
        return fixture_check_bytes(&e->offchain_config, got->offchain_config.data, got->offchain_config.size,
                                   subfield(sub, "%s.offchain_config", field), error);
}

int fixture_check_reporting_plugin_info(const SdloopReportingPluginInfo *got, const char *field,
                                        sd_bus_error *error) {
        const SdloopReportingPluginInfo *e = &fixture_reporting_plugin_info;
        char sub[FIELD_MAX];
        int r;

        r = fixture_check_string(e->name, got->name, subfield(sub, "%s.name", field), error);
        if (r < 0)
                return r;
        r = fixture_check_bool(e->unique_reports, got->unique_reports, subfield(sub, "%s.unique_reports", field),
                               error);
        if (r < 0)
                return r;
        r = fixture_check_uint(e->max_query_length, got->max_query_length,
                               subfield(sub, "%s.max_query_length", field), error);
        if (r < 0)
                return r;
        r = fixture_check_uint(e->max_observation_length, got->max_observation_length,
                               subfield(sub, "%s.max_observation_length", field), error);
        if (r < 0)
                return r;
        return fixture_check_uint(e->max_report_length, got->max_report_length,
                                  subfield(sub, "%s.max_report_length", field), error);
}

int fixture_check_chain_status(const SdloopChainStatus *got, const char *field, sd_bus_error *error) {
        char sub[FIELD_MAX];
        int r;

        r = fixture_check_string(fixture_chain_status.id, got->id, subfield(sub, "%s.id", field), error);
        if (r < 0)
                return r;
        r = fixture_check_bool(fixture_chain_status.enabled, got->enabled, subfield(sub, "%s.enabled", field),
                               error);
        if (r < 0)
                return r;
        return fixture_check_string(fixture_chain_status.config, got->config, subfield(sub, "%s.config", field),
                                    error);
}

int fixture_check_node_statuses(const SdloopNodeStatus *got, size_t n, const char *field, sd_bus_error *error) {
        char sub[FIELD_MAX];
        int r;

        if (n != FIXTURE_N_NODES)
                return sdloop_error_invalid(error, field, "expected %u nodes, got %zu", FIXTURE_N_NODES, n);
        for (size_t i = 0; i < n; i++) {
                const SdloopNodeStatus *e = &fixture_nodes[i];

                r = fixture_check_string(e->chain_id, got[i].chain_id, subfield(sub, "%s[%zu].chain_id", field, i),
                                         error);
                if (r < 0)
                        return r;
                r = fixture_check_string(e->name, got[i].name, subfield(sub, "%s[%zu].name", field, i), error);
                if (r < 0)
                        return r;
                r = fixture_check_string(e->config, got[i].config, subfield(sub, "%s[%zu].config", field, i), error);
                if (r < 0)
                        return r;
                r = fixture_check_string(e->state, got[i].state, subfield(sub, "%s[%zu].state", field, i), error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int fixture_check_onchain_config(const SdloopOnchainConfig *got, const char *field, sd_bus_error *error) {
        char sub[FIELD_MAX];
        int r;

        r = fixture_check_string(fixture_onchain_config.min, got->min, subfield(sub, "%s.min", field), error);
        if (r < 0)
                return r;
        return fixture_check_string(fixture_onchain_config.max, got->max, subfield(sub, "%s.max", field), error);
}

/* --- copies ----------------------------------------------------------------------------------------- */

int fixture_copy_bytes(const SdloopBytes *src, SdloopBytes *ret) {
        return sdloop_bytes_copy(ret, src->data, src->size);
}

int fixture_copy_contract_config(SdloopContractConfig *ret) {
        const SdloopContractConfig *e = &fixture_contract_config;
        SdloopContractConfig c = {
                .config_count = e->config_count,
                .f = e->f,
                .offchain_config_version = e->offchain_config_version,
        };
        size_t n_transmitters = strv_length(e->transmitters);
        int r = -ENOMEM;

        memcpy(c.digest, e->digest, SDLOOP_DIGEST_SIZE);

        c.signers = new0(SdloopBytes, e->n_signers);
        if (!c.signers)
                goto fail;
        c.n_signers = e->n_signers;
        for (size_t i = 0; i < e->n_signers; i++) {
                r = fixture_copy_bytes(&e->signers[i], &c.signers[i]);
                if (r < 0)
                        goto fail;
        }

        c.transmitters = new0(char *, n_transmitters + 1);
        if (!c.transmitters)
                goto fail;
        for (size_t i = 0; i < n_transmitters; i++) {
                c.transmitters[i] = strdup(e->transmitters[i]);
                if (!c.transmitters[i])
                        goto fail;
        }

        r = fixture_copy_bytes(&e->onchain_config, &c.onchain_config);
        if (r < 0)
                goto fail;
        r = fixture_copy_bytes(&e->offchain_config, &c.offchain_config);
        if (r < 0)
                goto fail;

        *ret = c;
        return 0;

fail:
        sdloop_contract_config_done(&c);
        return r < 0 ? r : -ENOMEM;
}

int fixture_copy_reporting_plugin_info(SdloopReportingPluginInfo *ret) {
        SdloopReportingPluginInfo i = fixture_reporting_plugin_info;

        i.name = strdup(fixture_reporting_plugin_info.name);
        if (!i.name)
                return -ENOMEM;
        *ret = i;
        return 0;
}

int fixture_copy_chain_status(SdloopChainStatus *ret) {
        SdloopChainStatus s = {
                .id = strdup(fixture_chain_status.id),
                .enabled = fixture_chain_status.enabled,
                .config = strdup(fixture_chain_status.config),
        };

        if (!s.id || !s.config) {
                sdloop_chain_status_done(&s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

int fixture_copy_node_statuses(SdloopNodeStatus **ret, size_t *ret_n) {
        SdloopNodeStatus *nodes;

        nodes = new0(SdloopNodeStatus, FIXTURE_N_NODES);
        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < FIXTURE_N_NODES; i++) {
                nodes[i] = (SdloopNodeStatus) {
                        .chain_id = strdup(fixture_nodes[i].chain_id),
                        .name = strdup(fixture_nodes[i].name),
                        .config = strdup(fixture_nodes[i].config),
                        .state = strdup(fixture_nodes[i].state),
                };
                if (!nodes[i].chain_id || !nodes[i].name || !nodes[i].config || !nodes[i].state) {
                        sdloop_node_statuses_free(nodes, i + 1);
                        return -ENOMEM;
                }
        }
        *ret = nodes;
        *ret_n = FIXTURE_N_NODES;
        return 0;
}

int fixture_copy_onchain_config(SdloopOnchainConfig *ret) {
        SdloopOnchainConfig c = {
                .min = strdup(fixture_onchain_config.min),
                .max = strdup(fixture_onchain_config.max),
        };

        if (!c.min || !c.max) {
                sdloop_onchain_config_done(&c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}
