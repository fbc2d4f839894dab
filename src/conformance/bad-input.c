/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bad-input.h"
#include "fixtures.h"
#include "macro.h"
#include "static.h"

typedef int (*build_t)(sd_bus_message *m, const ConformanceTargets *t);

typedef struct BadCall {
        const char *name;
        ConformanceTarget target;
        const char *path; /* instead of the target's */
        const char *interface;
        const char *member;
        build_t build;
        const char *errors[4]; /* acceptable error names */
        const char *mention;   /* what the message must name */
        bool fixtures_only;    /* refused only by the static implementations */
} BadCall;

#define E_INVALID     { SDLOOP_ERROR_INVALID_ARGUMENT }
/* The contract's names, not sd-bus's InvalidArgs/UnknownObject/UnknownMethod/UnknownInterface. */
#define E_SIGNATURE   { SDLOOP_ERROR_INVALID_ARGUMENT }
#define E_UNKNOWN     { SDLOOP_ERROR_NOT_FOUND }
#define E_NO_METHOD   { SDLOOP_ERROR_INVALID_ARGUMENT }
#define E_UNSUPPORTED { SDLOOP_ERROR_UNIMPLEMENTED }

static int append_ts(sd_bus_message *m, size_t digest_size, uint32_t epoch, uint8_t round) {
        uint8_t digest[64] = {};
        int r;

        memcpy(digest, fixture_config_digest, MIN(digest_size, (size_t) SDLOOP_DIGEST_SIZE));
        r = sd_bus_message_open_container(m, 'r', "ayuy");
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', digest, digest_size);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "uy", epoch, round);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_good_ts(sd_bus_message *m) {
        return sdloop_append_report_timestamp(m, &fixture_report_timestamp);
}

/* A ContractConfig with a digest of @digest_size bytes, @f, and the first @n_transmitters transmitters. */
static int append_contract_config(sd_bus_message *m, size_t digest_size, uint8_t f, size_t n_transmitters) {
        const SdloopContractConfig *c = &fixture_contract_config;
        uint8_t digest[64] = {};
        int r;

        memcpy(digest, c->digest, MIN(digest_size, (size_t) SDLOOP_DIGEST_SIZE));
        r = sd_bus_message_open_container(m, 'r', "aytaayasyaytay");
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', digest, digest_size);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "t", c->config_count);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "ay");
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_signers; i++) {
                r = sd_bus_message_append_array(m, 'y', c->signers[i].data, c->signers[i].size);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "s");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_transmitters; i++) {
                r = sd_bus_message_append(m, "s", c->transmitters[i]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "y", f);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', c->onchain_config.data, c->onchain_config.size);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "t", c->offchain_config_version);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', c->offchain_config.data, c->offchain_config.size);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_rp_config(sd_bus_message *m, size_t digest_size, uint8_t oracle_id, uint32_t n, uint32_t f) {
        const SdloopReportingPluginConfig *c = &fixture_reporting_plugin_config;
        uint8_t digest[64] = {};
        int r;

        memcpy(digest, c->digest, MIN(digest_size, (size_t) SDLOOP_DIGEST_SIZE));
        r = sd_bus_message_open_container(m, 'r', "ayyuuayaytttttt");
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', digest, digest_size);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "yuu", oracle_id, n, f);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', c->onchain_config.data, c->onchain_config.size);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', c->offchain_config.data, c->offchain_config.size);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "tttttt", c->estimated_round_interval_usec, c->max_duration_query_usec,
                                  c->max_duration_observation_usec, c->max_duration_report_usec,
                                  c->max_duration_should_accept_usec, c->max_duration_should_transmit_usec);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_many_attributed(sd_bus_message *m, const SdloopAttributed *one, size_t n) {
        _cleanup_free_ SdloopAttributed *v = new0(SdloopAttributed, n);

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                v[i] = *one;
        return sdloop_append_attributed_array(m, v, n);
}

/* PluginRelayer */
static int b_new_relayer_wrong_config(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "so", "[Foo]\nBar = \"Qux\"\n", STATIC_KEYSTORE_PATH);
}
static int b_new_relayer_no_keystore(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "s", t->relayer_config ?: FIXTURE_CONFIG_TOML);
}
static int b_new_relayer_unknown_keystore(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "so", t->relayer_config ?: FIXTURE_CONFIG_TOML, SDLOOP_ROOT_PATH "/host/nokeystore");
}
static int b_new_relayer_root_keystore(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "so", t->relayer_config ?: FIXTURE_CONFIG_TOML, "/");
}
static int b_new_relayer_huge_config(sd_bus_message *m, const ConformanceTargets *t) {
        size_t n = 1024 * 1024 + 1;
        _cleanup_free_ char *s = malloc(n + 1);

        if (!s)
                return -ENOMEM;
        memset(s, 'x', n);
        s[n] = 0;
        return sd_bus_message_append(m, "so", s, STATIC_KEYSTORE_PATH);
}

/* Relayer */
static int b_relay_args_bad_uuid(sd_bus_message *m, const ConformanceTargets *t) {
        SdloopRelayArgs a = fixture_relay_args;

        a.external_job_id = (char *) "1051429b-aa66-11ed-b0d2-5cff35dfbe6";
        return sdloop_append_relay_args(m, &a);
}
static int b_relay_args_bad_json(sd_bus_message *m, const ConformanceTargets *t) {
        SdloopRelayArgs a = fixture_relay_args;

        a.relay_config = (char *) "{\"chainID\": ";
        return sdloop_append_relay_args(m, &a);
}
static int b_relay_args_wrong_job_id(sd_bus_message *m, const ConformanceTargets *t) {
        SdloopRelayArgs a = fixture_relay_args;

        a.job_id = 124;
        return sdloop_append_relay_args(m, &a);
}
static int b_plugin_provider_bad_json(sd_bus_message *m, const ConformanceTargets *t) {
        SdloopPluginArgs a = fixture_plugin_args;
        int r;

        a.plugin_config = (char *) "not json";
        r = sdloop_append_relay_args(m, &fixture_relay_args);
        return r < 0 ? r : sdloop_append_plugin_args(m, &a);
}
static int b_plugin_provider_unknown_type(sd_bus_message *m, const ConformanceTargets *t) {
        SdloopRelayArgs a = fixture_relay_args;
        int r;

        a.provider_type = (char *) "frobnicator";
        r = sdloop_append_relay_args(m, &a);
        return r < 0 ? r : sdloop_append_plugin_args(m, &fixture_plugin_args);
}
static int b_plugin_provider_short_struct(sd_bus_message *m, const ConformanceTargets *t) {
        const SdloopRelayArgs *a = &fixture_relay_args;
        int r;

        r = sd_bus_message_append(m, "(sisbs)", a->external_job_id, a->job_id, a->contract_id, a->new,
                                  a->relay_config);
        return r < 0 ? r : sdloop_append_plugin_args(m, &fixture_plugin_args);
}
static int b_list_nodes_negative(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "is", (int32_t) -1, "");
}
static int b_list_nodes_token(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "is", FIXTURE_PAGE_SIZE, "page-2");
}
static int b_transact_amount(sd_bus_message *m, const char *amount) {
        return sd_bus_message_append(m, "sssb", FIXTURE_FROM, FIXTURE_TO, amount, FIXTURE_BALANCE_CHECK);
}
static int b_transact_not_decimal(sd_bus_message *m, const ConformanceTargets *t) {
        return b_transact_amount(m, "12a");
}
static int b_transact_leading_zero(sd_bus_message *m, const ConformanceTargets *t) {
        return b_transact_amount(m, "007");
}
static int b_transact_minus_zero(sd_bus_message *m, const ConformanceTargets *t) {
        return b_transact_amount(m, "-0");
}
static int b_transact_too_long(sd_bus_message *m, const ConformanceTargets *t) {
        char s[SDLOOP_DECIMAL_DIGITS_MAX + 2];

        memset(s, '9', sizeof(s) - 1);
        s[sizeof(s) - 1] = 0;
        return b_transact_amount(m, s);
}
static int b_transact_wrong_from(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "sssb", "0xdcba", FIXTURE_TO, FIXTURE_AMOUNT, FIXTURE_BALANCE_CHECK);
}
static int b_transact_int_amount(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "ssxb", FIXTURE_FROM, FIXTURE_TO, (int64_t) 123456789, FIXTURE_BALANCE_CHECK);
}

/* Provider */
static int b_digest_short(sd_bus_message *m, const ConformanceTargets *t) {
        return append_contract_config(m, SDLOOP_DIGEST_SIZE - 1, fixture_contract_config.f, 4);
}
static int b_digest_f_too_big(sd_bus_message *m, const ConformanceTargets *t) {
        return append_contract_config(m, SDLOOP_DIGEST_SIZE, 2, 4);
}
static int b_digest_transmitters(sd_bus_message *m, const ConformanceTargets *t) {
        return append_contract_config(m, SDLOOP_DIGEST_SIZE, fixture_contract_config.f, 3);
}
static int b_latest_config_wrong_block(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "t", FIXTURE_CHANGED_IN_BLOCK + 1);
}
static int b_latest_config_u32(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "u", (uint32_t) FIXTURE_CHANGED_IN_BLOCK);
}
static int b_transmit_extra_hash(sd_bus_message *m, const ConformanceTargets *t) {
        uint8_t extra[SDLOOP_DIGEST_SIZE - 1] = {};
        int r;

        r = sd_bus_message_open_container(m, 'r', "(ayuy)ay");
        if (r >= 0)
                r = append_good_ts(m);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', extra, sizeof(extra));
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sdloop_append_bytes(m, fixture_report.data, fixture_report.size);
        return r < 0 ? r : sdloop_append_attributed_array(m, fixture_signatures, FIXTURE_N_SIGNATURES);
}
static int b_transmit_long_digest(sd_bus_message *m, const ConformanceTargets *t) {
        int r;

        r = sd_bus_message_open_container(m, 'r', "(ayuy)ay");
        if (r >= 0)
                r = append_ts(m, SDLOOP_DIGEST_SIZE + 1, FIXTURE_EPOCH, FIXTURE_ROUND);
        if (r >= 0)
                r = sdloop_append_digest(m, fixture_report_context.extra_hash);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sdloop_append_bytes(m, fixture_report.data, fixture_report.size);
        return r < 0 ? r : sdloop_append_attributed_array(m, fixture_signatures, FIXTURE_N_SIGNATURES);
}
static int b_transmit_many_signatures(sd_bus_message *m, const ConformanceTargets *t) {
        int r;

        r = sdloop_append_report_context(m, &fixture_report_context);
        if (r >= 0)
                r = sdloop_append_bytes(m, fixture_report.data, fixture_report.size);
        return r < 0 ? r : append_many_attributed(m, &fixture_signatures[0], SDLOOP_ORACLES_MAX + 1);
}
static int b_transmit_wrong_signer(sd_bus_message *m, const ConformanceTargets *t) {
        SdloopAttributed s = fixture_signatures[0];
        int r;

        s.oracle = 55;
        r = sdloop_append_report_context(m, &fixture_report_context);
        if (r >= 0)
                r = sdloop_append_bytes(m, fixture_report.data, fixture_report.size);
        return r < 0 ? r : sdloop_append_attributed_array(m, &s, 1);
}
static int b_build_report_value(sd_bus_message *m, const ConformanceTargets *t) {
        SdloopParsedObservation o = fixture_parsed_observations[0];

        o.value = (char *) "1.5";
        return sdloop_append_parsed_observations(m, &o, 1);
}
static int b_build_report_juels(sd_bus_message *m, const ConformanceTargets *t) {
        SdloopParsedObservation o = fixture_parsed_observations[0];

        o.juels_per_fee_coin = (char *) "+54";
        return sdloop_append_parsed_observations(m, &o, 1);
}
static int b_median_from_report_wrong(sd_bus_message *m, const ConformanceTargets *t) {
        return sdloop_append_bytes(m, fixture_query.data, fixture_query.size);
}
static int b_max_report_length_wrong(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "x", FIXTURE_MAX_REPORT_LENGTH_N + 1);
}
static int b_round_requested_wrong(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "t", FIXTURE_LOOKBACK_USEC + 1);
}
static int b_encode_bad_min(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "(ss)", "twelve", FIXTURE_ONCHAIN_MAX);
}
static int b_encode_min_above_max(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "(ss)", FIXTURE_ONCHAIN_MAX, FIXTURE_ONCHAIN_MIN);
}
static int b_decode_wrong(sd_bus_message *m, const ConformanceTargets *t) {
        return sdloop_append_bytes(m, fixture_signed.data, fixture_signed.size);
}

/* PluginMedian */
static int b_factory_deps(sd_bus_message *m, const char *provider, const char *ds, const char *juels,
                          const char *error_log) {
        return sd_bus_message_append(m, "oooo", provider, ds, juels, error_log);
}
static int b_factory_root_provider(sd_bus_message *m, const ConformanceTargets *t) {
        return b_factory_deps(m, "/", t->data_source, t->juels_data_source, t->error_log);
}
static int b_factory_foreign_data_source(sd_bus_message *m, const ConformanceTargets *t) {
        return b_factory_deps(m, t->provider, "/no/p", t->juels_data_source, t->error_log);
}
static int b_factory_provider_as_error_log(sd_bus_message *m, const ConformanceTargets *t) {
        return b_factory_deps(m, t->provider, t->data_source, t->juels_data_source, t->provider);
}
static int b_factory_unknown_provider(sd_bus_message *m, const ConformanceTargets *t) {
        return b_factory_deps(m, SDLOOP_ROOT_PATH "/host/provider/999", t->data_source,
                              t->juels_data_source,
                              t->error_log);
}
static int b_factory_unknown_data_source(sd_bus_message *m, const ConformanceTargets *t) {
        return b_factory_deps(m, t->provider,
                              SDLOOP_ROOT_PATH "/host/data_source/999",
                              t->juels_data_source,
                              t->error_log);
}
static int b_factory_swapped_data_sources(sd_bus_message *m, const ConformanceTargets *t) {
        return b_factory_deps(m, t->provider,
                              t->juels_data_source,
                              t->data_source,
                              t->error_log);
}
static int b_factory_two_paths(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "oo", t->provider,
                                     t->data_source);
}

/* ReportingPluginFactory */
static int b_rp_config_digest(sd_bus_message *m, const ConformanceTargets *t) {
        return append_rp_config(m, SDLOOP_DIGEST_SIZE - 1, 10, 12, 3);
}
static int b_rp_config_f(sd_bus_message *m, const ConformanceTargets *t) {
        return append_rp_config(m, SDLOOP_DIGEST_SIZE, 10, 12, 12);
}
static int b_rp_config_oracle_id(sd_bus_message *m, const ConformanceTargets *t) {
        return append_rp_config(m, SDLOOP_DIGEST_SIZE, 12, 12, 3);
}
static int b_rp_config_n(sd_bus_message *m, const ConformanceTargets *t) {
        return append_rp_config(m, SDLOOP_DIGEST_SIZE, 10, 13, 3);
}

/* ReportingPlugin */
static int b_query_long_digest(sd_bus_message *m, const ConformanceTargets *t) {
        return append_ts(m, SDLOOP_DIGEST_SIZE + 1, FIXTURE_EPOCH, FIXTURE_ROUND);
}
static int b_query_wrong_round(sd_bus_message *m, const ConformanceTargets *t) {
        return append_ts(m, SDLOOP_DIGEST_SIZE, FIXTURE_EPOCH, FIXTURE_ROUND + 1);
}
static int b_query_short_struct(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "(ayu)", 0, FIXTURE_EPOCH);
}
static int b_observation_wrong_query(sd_bus_message *m, const ConformanceTargets *t) {
        int r = append_good_ts(m);

        return r < 0 ? r : sdloop_append_bytes(m, fixture_report.data, fixture_report.size);
}
static int b_report_many_observations(sd_bus_message *m, const ConformanceTargets *t) {
        int r = append_good_ts(m);

        if (r >= 0)
                r = sdloop_append_bytes(m, t->query.data, t->query.size);
        return r < 0 ? r : append_many_attributed(m, &fixture_observations[0], SDLOOP_ORACLES_MAX + 1);
}
static int b_report_wrong_observer(sd_bus_message *m, const ConformanceTargets *t) {
        SdloopAttributed o = fixture_observations[0];
        int r = append_good_ts(m);

        o.oracle = 98;
        if (r >= 0)
                r = sdloop_append_bytes(m, t->query.data, t->query.size);
        return r < 0 ? r : sdloop_append_attributed_array(m, &o, 1);
}
static int b_decision_wrong_report(sd_bus_message *m, const ConformanceTargets *t) {
        int r = append_good_ts(m);

        return r < 0 ? r : sdloop_append_bytes(m, fixture_query.data, fixture_query.size);
}
static int b_decision_wrong_epoch(sd_bus_message *m, const ConformanceTargets *t) {
        int r = append_ts(m, SDLOOP_DIGEST_SIZE, FIXTURE_EPOCH + 1, FIXTURE_ROUND);

        return r < 0 ? r : sdloop_append_bytes(m, fixture_report.data, fixture_report.size);
}

/* Host */
static int b_sign_wrong_account(sd_bus_message *m, const ConformanceTargets *t) {
        int r = sd_bus_message_append(m, "s", "otheraccount");

        return r < 0 ? r : sdloop_append_bytes(m, fixture_encoded.data, fixture_encoded.size);
}
static int b_sign_wrong_data(sd_bus_message *m, const ConformanceTargets *t) {
        int r = sd_bus_message_append(m, "s", FIXTURE_ACCOUNT);

        return r < 0 ? r : sdloop_append_bytes(m, fixture_signed.data, fixture_signed.size);
}
static int b_sign_wrong_account_no_data(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "s", FIXTURE_ACCOUNT);
}
static int b_observe_short_digest(sd_bus_message *m, const ConformanceTargets *t) {
        return append_ts(m, SDLOOP_DIGEST_SIZE - 1, FIXTURE_EPOCH, FIXTURE_ROUND);
}
static int b_save_error_huge(sd_bus_message *m, const ConformanceTargets *t) {
        size_t n = SDLOOP_ERROR_LOG_MESSAGE_MAX + 1;
        _cleanup_free_ char *s = malloc(n + 1);

        if (!s)
                return -ENOMEM;
        memset(s, 'e', n);
        s[n] = 0;
        return sd_bus_message_append(m, "s", s);
}
static int b_save_error_wrong(sd_bus_message *m, const ConformanceTargets *t) {
        return sd_bus_message_append(m, "s", "another error");
}
static int b_good_ts(sd_bus_message *m, const ConformanceTargets *t) {
        return append_good_ts(m);
}

#define PLUGIN_RELAYER "org.sdloop1.PluginRelayer"
#define RELAYER        "org.sdloop1.Relayer"
#define OCD            "org.sdloop1.OffchainConfigDigester"
#define CCT            "org.sdloop1.ContractConfigTracker"
#define CT             "org.sdloop1.ContractTransmitter"
#define RC             "org.sdloop1.ReportCodec"
#define MC             "org.sdloop1.MedianContract"
#define OCC            "org.sdloop1.OnchainConfigCodec"
#define PLUGIN_MEDIAN  "org.sdloop1.PluginMedian"
#define FACTORY        "org.sdloop1.ReportingPluginFactory"
#define RP             "org.sdloop1.ReportingPlugin"

static const BadCall bad_calls[] = {
        /* PluginRelayer */
        { "NewRelayer: wrong config", CONFORMANCE_T_RELAYER_ROOT, NULL, PLUGIN_RELAYER, "NewRelayer",
          b_new_relayer_wrong_config, E_INVALID, "config" , true },
        { "NewRelayer: missing keystore", CONFORMANCE_T_RELAYER_ROOT, NULL, PLUGIN_RELAYER, "NewRelayer",
          b_new_relayer_no_keystore, E_SIGNATURE, "'so'" },
        { "NewRelayer: unknown keystore", CONFORMANCE_T_RELAYER_ROOT, NULL, PLUGIN_RELAYER, "NewRelayer",
          b_new_relayer_unknown_keystore, E_UNKNOWN, "keystore" },
        { "NewRelayer: keystore at /", CONFORMANCE_T_RELAYER_ROOT, NULL, PLUGIN_RELAYER, "NewRelayer",
          b_new_relayer_root_keystore, E_UNKNOWN, "keystore: the host can have no object at /" },
        { "NewRelayer: 1 MiB config", CONFORMANCE_T_RELAYER_ROOT, NULL, PLUGIN_RELAYER, "NewRelayer",
          b_new_relayer_huge_config, E_INVALID, "config" },
        { "PluginRelayer: unknown method", CONFORMANCE_T_RELAYER_ROOT, NULL, PLUGIN_RELAYER, "NewRelayers",
          NULL, E_NO_METHOD, "NewRelayers" },
        { "root: no PluginMedian", CONFORMANCE_T_RELAYER_ROOT, NULL, PLUGIN_MEDIAN, "NewMedianFactory",
          b_factory_two_paths, E_NO_METHOD, PLUGIN_MEDIAN },
        /* Relayer */
        { "NewConfigProvider: bad UUID", CONFORMANCE_T_RELAYER, NULL, RELAYER, "NewConfigProvider",
          b_relay_args_bad_uuid, E_INVALID, "relay_args.external_job_id" },
        { "NewConfigProvider: bad JSON", CONFORMANCE_T_RELAYER, NULL, RELAYER, "NewConfigProvider",
          b_relay_args_bad_json, E_INVALID, "relay_args.relay_config" },
        { "NewConfigProvider: wrong job id", CONFORMANCE_T_RELAYER, NULL, RELAYER, "NewConfigProvider",
          b_relay_args_wrong_job_id, E_INVALID, "relay_args.job_id" , true },
        { "NewPluginProvider: bad JSON", CONFORMANCE_T_RELAYER, NULL, RELAYER, "NewPluginProvider",
          b_plugin_provider_bad_json, E_INVALID, "plugin_args.plugin_config" },
        { "NewPluginProvider: unknown type", CONFORMANCE_T_RELAYER, NULL, RELAYER, "NewPluginProvider",
          b_plugin_provider_unknown_type, E_UNSUPPORTED, "frobnicator" },
        { "NewPluginProvider: short struct", CONFORMANCE_T_RELAYER, NULL, RELAYER, "NewPluginProvider",
          b_plugin_provider_short_struct, E_SIGNATURE, "(sisbss)" },
        { "NewPluginProvider: no arguments", CONFORMANCE_T_RELAYER, NULL, RELAYER, "NewPluginProvider",
          NULL, E_SIGNATURE, "(sisbss)" },
        { "ListNodeStatuses: negative size", CONFORMANCE_T_RELAYER, NULL, RELAYER, "ListNodeStatuses",
          b_list_nodes_negative, E_INVALID, "page_size" },
        { "ListNodeStatuses: wrong token", CONFORMANCE_T_RELAYER, NULL, RELAYER, "ListNodeStatuses",
          b_list_nodes_token, E_INVALID, "page_token" , true },
        { "Transact: not a decimal", CONFORMANCE_T_RELAYER, NULL, RELAYER, "Transact",
          b_transact_not_decimal, E_INVALID, "amount" },
        { "Transact: leading zeros", CONFORMANCE_T_RELAYER, NULL, RELAYER, "Transact",
          b_transact_leading_zero, E_INVALID, "amount" },
        { "Transact: minus zero", CONFORMANCE_T_RELAYER, NULL, RELAYER, "Transact",
          b_transact_minus_zero, E_INVALID, "amount" },
        { "Transact: 79 digits", CONFORMANCE_T_RELAYER, NULL, RELAYER, "Transact",
          b_transact_too_long, E_INVALID, "amount" },
        { "Transact: wrong from", CONFORMANCE_T_RELAYER, NULL, RELAYER, "Transact",
          b_transact_wrong_from, E_INVALID, "from" , true },
        { "Transact: amount as int64", CONFORMANCE_T_RELAYER, NULL, RELAYER, "Transact",
          b_transact_int_amount, E_SIGNATURE, "'sssb'" },
        { "Relayer: unknown object", CONFORMANCE_T_RELAYER, SDLOOP_ROOT_PATH "/relayer/999", RELAYER, "GetChainStatus",
          NULL, E_UNKNOWN, "/org/sdloop1/relayer/999" },
        /* provider components */
        { "ConfigDigest: 31-byte digest", CONFORMANCE_T_PROVIDER, NULL, OCD, "ConfigDigest",
          b_digest_short, E_INVALID, "contract_config.digest" },
        { "ConfigDigest: 3f >= n", CONFORMANCE_T_PROVIDER, NULL, OCD, "ConfigDigest",
          b_digest_f_too_big, E_INVALID, "contract_config.f" },
        { "ConfigDigest: transmitters", CONFORMANCE_T_PROVIDER, NULL, OCD, "ConfigDigest",
          b_digest_transmitters, E_INVALID, "contract_config.transmitters" },
        { "LatestConfig: wrong block", CONFORMANCE_T_PROVIDER, NULL, CCT, "LatestConfig",
          b_latest_config_wrong_block, E_INVALID, "changed_in_block" , true },
        { "LatestConfig: uint32", CONFORMANCE_T_PROVIDER, NULL, CCT, "LatestConfig",
          b_latest_config_u32, E_SIGNATURE, "'t'" },
        { "Transmit: 31-byte extra hash", CONFORMANCE_T_PROVIDER, NULL, CT, "Transmit",
          b_transmit_extra_hash, E_INVALID, "report_context.extra_hash" },
        { "Transmit: 33-byte digest", CONFORMANCE_T_PROVIDER, NULL, CT, "Transmit",
          b_transmit_long_digest, E_INVALID, "report_context.timestamp.digest" },
        { "Transmit: 32 signatures", CONFORMANCE_T_PROVIDER, NULL, CT, "Transmit",
          b_transmit_many_signatures, E_INVALID, "signatures: expected at most 31" },
        { "Transmit: wrong signer", CONFORMANCE_T_PROVIDER, NULL, CT, "Transmit",
          b_transmit_wrong_signer, E_INVALID, "signatures[0].oracle" , true },
        { "BuildReport: malformed value", CONFORMANCE_T_PROVIDER, NULL, RC, "BuildReport",
          b_build_report_value, E_INVALID, "observations[0].value" },
        { "BuildReport: malformed juels", CONFORMANCE_T_PROVIDER, NULL, RC, "BuildReport",
          b_build_report_juels, E_INVALID, "observations[0].juels_per_fee_coin" },
        { "MedianFromReport: wrong report", CONFORMANCE_T_PROVIDER, NULL, RC, "MedianFromReport",
          b_median_from_report_wrong, E_INVALID, "report" , true },
        { "MaxReportLength: wrong n", CONFORMANCE_T_PROVIDER, NULL, RC, "MaxReportLength",
          b_max_report_length_wrong, E_INVALID, "n:" , true },
        { "LatestRoundRequested: lookback", CONFORMANCE_T_PROVIDER, NULL, MC, "LatestRoundRequested",
          b_round_requested_wrong, E_INVALID, "lookback_usec" , true },
        { "Encode: malformed min", CONFORMANCE_T_PROVIDER, NULL, OCC, "Encode",
          b_encode_bad_min, E_INVALID, "onchain_config.min" },
        { "Encode: min above max", CONFORMANCE_T_PROVIDER, NULL, OCC, "Encode",
          b_encode_min_above_max, E_INVALID, "onchain_config" },
        { "Decode: wrong encoding", CONFORMANCE_T_PROVIDER, NULL, OCC, "Decode",
          b_decode_wrong, E_INVALID, "encoded" , true },
        { "provider: unknown interface", CONFORMANCE_T_PROVIDER, NULL, "org.sdloop1.ChainReader", "GetLatestValue",
          NULL, E_NO_METHOD, "GetLatestValue" },
        { "provider: unknown object", CONFORMANCE_T_PROVIDER, SDLOOP_ROOT_PATH "/provider/999", OCD, "ConfigDigestPrefix",
          NULL, E_UNKNOWN, "/org/sdloop1/provider/999" },
        /* PluginMedian */
        { "NewMedianFactory: provider at /", CONFORMANCE_T_MEDIAN_ROOT, NULL, PLUGIN_MEDIAN, "NewMedianFactory",
          b_factory_root_provider, E_UNKNOWN, "provider: the host can have no provider at /" },
        { "NewMedianFactory: data source at /no/p", CONFORMANCE_T_MEDIAN_ROOT, NULL, PLUGIN_MEDIAN, "NewMedianFactory",
          b_factory_foreign_data_source, E_UNKNOWN, "data_source: the host can have no data_source at /no/p" },
        { "NewMedianFactory: provider as error log", CONFORMANCE_T_MEDIAN_ROOT, NULL, PLUGIN_MEDIAN, "NewMedianFactory",
          b_factory_provider_as_error_log, E_UNKNOWN, "error_log: the host can have no error_log at" },
        { "NewMedianFactory: unknown provider", CONFORMANCE_T_MEDIAN_ROOT, NULL, PLUGIN_MEDIAN, "NewMedianFactory",
          b_factory_unknown_provider, E_UNKNOWN, "provider", true },
        { "NewMedianFactory: unknown data source", CONFORMANCE_T_MEDIAN_ROOT, NULL, PLUGIN_MEDIAN, "NewMedianFactory",
          b_factory_unknown_data_source, E_UNKNOWN, "data_source", true },
        { "NewMedianFactory: swapped sources", CONFORMANCE_T_MEDIAN_ROOT, NULL, PLUGIN_MEDIAN, "NewMedianFactory",
          b_factory_swapped_data_sources, E_INVALID, "data_source" , true },
        { "NewMedianFactory: two paths", CONFORMANCE_T_MEDIAN_ROOT, NULL, PLUGIN_MEDIAN, "NewMedianFactory",
          b_factory_two_paths, E_SIGNATURE, "'oooo'" },
        /* ReportingPluginFactory */
        { "NewReportingPlugin: 31-byte digest", CONFORMANCE_T_FACTORY, NULL, FACTORY, "NewReportingPlugin",
          b_rp_config_digest, E_INVALID, "config.digest" },
        { "NewReportingPlugin: f >= n", CONFORMANCE_T_FACTORY, NULL, FACTORY, "NewReportingPlugin",
          b_rp_config_f, E_INVALID, "config.f" },
        { "NewReportingPlugin: oracle_id >= n", CONFORMANCE_T_FACTORY, NULL, FACTORY, "NewReportingPlugin",
          b_rp_config_oracle_id, E_INVALID, "config.oracle_id" },
        { "NewReportingPlugin: wrong n", CONFORMANCE_T_FACTORY, NULL, FACTORY, "NewReportingPlugin",
          b_rp_config_n, E_INVALID, "config.n" , true },
        { "NewReportingPlugin: no config", CONFORMANCE_T_FACTORY, NULL, FACTORY, "NewReportingPlugin",
          NULL, E_SIGNATURE, "(ayyuuayaytttttt)" },
        /* ReportingPlugin */
        { "Query: 33-byte digest", CONFORMANCE_T_REPORTING_PLUGIN, NULL, RP, "Query",
          b_query_long_digest, E_INVALID, "report_timestamp.digest" },
        { "Query: wrong round", CONFORMANCE_T_REPORTING_PLUGIN, NULL, RP, "Query",
          b_query_wrong_round, E_INVALID, "report_timestamp.round" , true },
        { "Query: short struct", CONFORMANCE_T_REPORTING_PLUGIN, NULL, RP, "Query",
          b_query_short_struct, E_SIGNATURE, "(ayuy)" },
        { "Observation: wrong query", CONFORMANCE_T_REPORTING_PLUGIN, NULL, RP, "Observation",
          b_observation_wrong_query, E_INVALID, "query" , true },
        { "Observation: no query", CONFORMANCE_T_REPORTING_PLUGIN, NULL, RP, "Observation",
          b_good_ts, E_SIGNATURE, "(ayuy)ay" },
        { "Report: 32 observations", CONFORMANCE_T_REPORTING_PLUGIN, NULL, RP, "Report",
          b_report_many_observations, E_INVALID, "observations: expected at most 31" },
        { "Report: wrong observer", CONFORMANCE_T_REPORTING_PLUGIN, NULL, RP, "Report",
          b_report_wrong_observer, E_INVALID, "observations[0].oracle", true },
        { "ShouldAcceptFinalizedReport: wrong report", CONFORMANCE_T_REPORTING_PLUGIN, NULL, RP, "ShouldAcceptFinalizedReport",
          b_decision_wrong_report, E_INVALID, "report" , true },
        { "ShouldTransmitAcceptedReport: wrong epoch", CONFORMANCE_T_REPORTING_PLUGIN, NULL, RP, "ShouldTransmitAcceptedReport",
          b_decision_wrong_epoch, E_INVALID, "report_timestamp.epoch" , true },
        { "ReportingPlugin: unknown object", CONFORMANCE_T_REPORTING_PLUGIN, SDLOOP_ROOT_PATH "/reporting_plugin/999", RP, "Query",
          b_good_ts, E_UNKNOWN, "/org/sdloop1/reporting_plugin/999" },
        /* host side */
        { "Sign: wrong account", CONFORMANCE_T_HOST_KEYSTORE, NULL, "org.sdloop1.Keystore", "Sign",
          b_sign_wrong_account, E_INVALID, "account" },
        { "Sign: wrong data", CONFORMANCE_T_HOST_KEYSTORE, NULL, "org.sdloop1.Keystore", "Sign",
          b_sign_wrong_data, E_INVALID, "data" },
        { "Sign: no data", CONFORMANCE_T_HOST_KEYSTORE, NULL, "org.sdloop1.Keystore", "Sign",
          b_sign_wrong_account_no_data, E_SIGNATURE, "'say'" },
        { "Observe: 31-byte digest", CONFORMANCE_T_HOST_DATA_SOURCE, NULL, "org.sdloop1.DataSource", "Observe",
          b_observe_short_digest, E_INVALID, "report_timestamp.digest" },
        { "Observe: unknown object", CONFORMANCE_T_HOST_DATA_SOURCE, SDLOOP_ROOT_PATH "/host/data_source/999", "org.sdloop1.DataSource", "Observe",
          b_good_ts, E_UNKNOWN, "/org/sdloop1/host/data_source/999" },
        { "SaveError: 64 KiB + 1", CONFORMANCE_T_HOST_ERROR_LOG, NULL, "org.sdloop1.ErrorLog", "SaveError",
          b_save_error_huge, E_INVALID, "message" },
        { "SaveError: wrong message", CONFORMANCE_T_HOST_ERROR_LOG, NULL, "org.sdloop1.ErrorLog", "SaveError",
          b_save_error_wrong, E_INVALID, "message" },
};


int conformance_still_serving(const ConformanceTargets *t, ConformanceTarget target, void *userdata,
                              sd_bus_error *error) {
        _cleanup_(sdloop_bytes_done) SdloopBytes query = {};
        SdloopPeer *peer = t->peer[target];
        const char *path = t->path[target];

        if (target == CONFORMANCE_T_REPORTING_PLUGIN)
                return sdloop_reporting_plugin_query(peer, path, &t->timestamp, &query, error);
        return sdloop_peer_call_method(peer, path, "org.sdloop1.Service", "Ready", NULL, error, NULL);
}

/* 0 when @c was refused as it must be; otherwise -EIO and @ret_message says how it was answered. */
static int bad_call_run(const BadCall *c, const ConformanceTargets *t, char **ret_message) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopPeer *peer = t->peer[c->target];
        const char *path = c->path ?: t->path[c->target];
        bool name_ok = false;
        int r;

        r = sdloop_peer_new_call(peer, path, c->interface, c->member, &m);
        if (r >= 0 && c->build)
                r = c->build(m, t);
        if (r < 0)
                return asprintf(ret_message, "building the call failed: %s", strerror(-r)) < 0 ? -ENOMEM : -EIO;

        r = sdloop_peer_call(peer, m, 0, NULL, &error);
        if (r >= 0)
                return asprintf(ret_message, "the call succeeded") < 0 ? -ENOMEM : -EIO;
        for (size_t i = 0; i < ELEMENTSOF(c->errors) && c->errors[i]; i++)
                if (sd_bus_error_has_name(&error, c->errors[i]))
                        name_ok = true;
        if (!name_ok)
                return asprintf(ret_message, "expected %s, got %s: %s", c->errors[0], strempty(error.name),
                                strempty(error.message)) < 0 ? -ENOMEM : -EIO;
        if (!error.message || !strstr(error.message, c->mention))
                return asprintf(ret_message, "the error does not name \"%s\": %s: %s", c->mention, error.name,
                                strempty(error.message)) < 0 ? -ENOMEM : -EIO;
        return asprintf(ret_message, "%s: %s", error.name, error.message) < 0 ? -ENOMEM : 0;
}

unsigned conformance_bad_input_run(const ConformanceTargets *t, conformance_still_serving_fn still_serving,
                                   conformance_bad_input_result_fn result, void *userdata) {
        unsigned n_failed = 0;

        if (!still_serving)
                still_serving = conformance_still_serving;

        for (size_t i = 0; i < ELEMENTSOF(bad_calls); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_free_ char *message = NULL, *full = NULL;
                const BadCall *c = &bad_calls[i];
                int r;

                if (!t->peer[c->target] || (c->fixtures_only && !t->fixtures))
                        continue;

                r = bad_call_run(c, t, &message);
                if (r >= 0) {
                        r = still_serving(t, c->target, userdata, &error);
                        if (r < 0 && asprintf(&full, "refused (%s), but then %s did not serve: %s: %s",
                                              strempty(message), t->path[c->target], strempty(error.name),
                                              error.message ?: strerror(-r)) < 0)
                                full = NULL;
                }
                if (r < 0)
                        n_failed++;
                result(c->name, r, full ?: message, userdata);
        }
        return n_failed;
}

size_t conformance_bad_input_count(void) {
        return ELEMENTSOF(bad_calls);
}
