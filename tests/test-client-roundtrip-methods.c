/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One entry per generated client method: its synchronous and asynchronous call with the conformance
 * fixtures, and the check of its results against them. */

#include <check.h>
#include <string.h>

#include "fixtures.h"
#include "macro.h"
#include "static.h"
#include "test-client-roundtrip.h"

/* The library's copy of a result: taken over (and zeroed) or borrowed, as @rep says. */
#define GRAB(rep, dst, src)                                                                              \
        do {                                                                                             \
                (dst) = *(src);                                                                          \
                if ((rep)->take)                                                                         \
                        memset((src), 0, sizeof(*(src)));                                                \
        } while (0)

#define CHECK(expr)                                                                                      \
        do {                                                                                             \
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;                         \
                int _r = (expr);                                                                         \
                ck_assert_msg(_r >= 0, "%s: %s", #expr, strempty(e.message));                           \
        } while (0)

/* --- reply handlers by result shape --------------------------------------------------------------- */

static void on_empty(SdloopPeer *peer, int r, sd_bus_error *error, void *userdata) {
        reply_finish(userdata, r, error);
}

static void on_string(SdloopPeer *peer, int r, char **s, sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        GRAB(rep, rep->s, s);
        reply_finish(rep, r, error);
}

static void on_strv(SdloopPeer *peer, int r, char ***l, sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        GRAB(rep, rep->strv, l);
        reply_finish(rep, r, error);
}

static void on_bytes(SdloopPeer *peer, int r, SdloopBytes *b, sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        GRAB(rep, rep->bytes, b);
        reply_finish(rep, r, error);
}

static void on_bool(SdloopPeer *peer, int r, bool b, sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        rep->b = b;
        reply_finish(rep, r, error);
}

static void on_digest(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE], sd_bus_error *error,
                      void *userdata) {
        Reply *rep = userdata;

        memcpy(rep->digest, digest, SDLOOP_DIGEST_SIZE);
        reply_finish(rep, r, error);
}

static void on_uint16(SdloopPeer *peer, int r, uint16_t u, sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        rep->u = u;
        reply_finish(rep, r, error);
}

static void on_uint64(SdloopPeer *peer, int r, uint64_t u, sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        rep->u = u;
        reply_finish(rep, r, error);
}

static void on_int64(SdloopPeer *peer, int r, int64_t i, sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        rep->i = i;
        reply_finish(rep, r, error);
}

static void on_u64_digest(SdloopPeer *peer, int r, uint64_t u, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                          sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        rep->u = u;
        memcpy(rep->digest, digest, SDLOOP_DIGEST_SIZE);
        reply_finish(rep, r, error);
}

static void on_digest_epoch(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE], uint32_t epoch,
                            sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        memcpy(rep->digest, digest, SDLOOP_DIGEST_SIZE);
        rep->epoch = epoch;
        reply_finish(rep, r, error);
}

static void on_digest_epoch_round(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                  uint32_t epoch, uint8_t round, sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        memcpy(rep->digest, digest, SDLOOP_DIGEST_SIZE);
        rep->epoch = epoch;
        rep->round = round;
        reply_finish(rep, r, error);
}

static void on_transmission(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE], uint32_t epoch,
                            uint8_t round, char **answer, int64_t ts, sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        memcpy(rep->digest, digest, SDLOOP_DIGEST_SIZE);
        rep->epoch = epoch;
        rep->round = round;
        GRAB(rep, rep->s, answer);
        rep->i = ts;
        reply_finish(rep, r, error);
}

static void on_contract_config(SdloopPeer *peer, int r, SdloopContractConfig *c, sd_bus_error *error,
                               void *userdata) {
        Reply *rep = userdata;

        GRAB(rep, rep->config, c);
        reply_finish(rep, r, error);
}

static void on_onchain_config(SdloopPeer *peer, int r, SdloopOnchainConfig *c, sd_bus_error *error,
                              void *userdata) {
        Reply *rep = userdata;

        GRAB(rep, rep->onchain, c);
        reply_finish(rep, r, error);
}

static void on_chain_status(SdloopPeer *peer, int r, SdloopChainStatus *s, sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        GRAB(rep, rep->status, s);
        reply_finish(rep, r, error);
}

static void on_node_statuses(SdloopPeer *peer, int r, SdloopNodeStatus **nodes, size_t n_nodes, int32_t total,
                             char **next_page_token, sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        GRAB(rep, rep->nodes, nodes);
        rep->n_nodes = n_nodes;
        rep->i = total;
        GRAB(rep, rep->s2, next_page_token);
        reply_finish(rep, r, error);
}

static void on_reporting_plugin(SdloopPeer *peer, int r, char **path, SdloopReportingPluginInfo *info,
                                sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        GRAB(rep, rep->s, path);
        GRAB(rep, rep->info, info);
        reply_finish(rep, r, error);
}

static void on_report(SdloopPeer *peer, int r, bool should_report, SdloopBytes *report, sd_bus_error *error,
                      void *userdata) {
        Reply *rep = userdata;

        rep->b = should_report;
        GRAB(rep, rep->bytes, report);
        reply_finish(rep, r, error);
}

/* --- checks --------------------------------------------------------------------------------------- */

static void check_nothing(const Reply *rep) {
}

static void check_bytes(const SdloopBytes *expected, const Reply *rep) {
        CHECK(fixture_check_bytes(expected, rep->bytes.data, rep->bytes.size, "bytes", &e));
}

static void check_string(const char *expected, const Reply *rep) {
        CHECK(fixture_check_string(expected, rep->s, "string", &e));
}

static void check_digest(const Reply *rep) {
        CHECK(fixture_check_digest(rep->digest, "digest", &e));
}

static void check_created(SdloopPeer *server, const char *path) {
        ck_assert_msg(path && sd_bus_object_path_is_valid(path), "not an object path: %s", strempty(path));
        ck_assert_ptr_nonnull(sdloop_peer_find_object(server, path));
}

/* --- Service ---------------------------------------------------------------------------------------- */

static int sync_service_ready(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_service_ready(p, path, e);
}

static int async_service_ready(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_service_ready_async(p, path, ctx, on_empty, rep, s);
}

static int sync_service_health_report(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_service_health_report(p, path, &rep->strv, e);
}

static int async_service_health_report(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                       sd_bus_slot **s) {
        return sdloop_service_health_report_async(p, path, ctx, on_strv, rep, s);
}

static void check_service_health_report(const Reply *rep) {
        /* One healthy object: its name → "". */
        ck_assert_uint_eq(strv_length(rep->strv), 2);
        ck_assert(!isempty(rep->strv[0]));
        ck_assert_str_eq(rep->strv[1], "");
}

static int sync_service_close(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_service_close(p, path, e);
}

static int async_service_close(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_service_close_async(p, path, ctx, on_empty, rep, s);
}

/* --- Keystore, DataSource, ErrorLog (the host's, called by the plugin side) ----------------------- */

static int sync_keystore_accounts(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_keystore_accounts(p, path, &rep->strv, e);
}

static int async_keystore_accounts(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                   sd_bus_slot **s) {
        return sdloop_keystore_accounts_async(p, path, ctx, on_strv, rep, s);
}

static void check_keystore_accounts(const Reply *rep) {
        static const char * const expected[] = { FIXTURE_ACCOUNT, NULL };

        CHECK(fixture_check_strv(expected, rep->strv, "accounts", &e));
}

static int sync_keystore_sign(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_keystore_sign(p, path, FIXTURE_ACCOUNT, fixture_encoded.data, fixture_encoded.size,
                                    &rep->bytes, e);
}

static int async_keystore_sign(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_keystore_sign_async(p, path, FIXTURE_ACCOUNT, fixture_encoded.data, fixture_encoded.size, ctx,
                                          on_bytes, rep, s);
}

static void check_keystore_sign(const Reply *rep) {
        check_bytes(&fixture_signed, rep);
}

static int sync_data_source_observe(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_data_source_observe(p, path, &fixture_report_timestamp, &rep->s, e);
}

static int async_data_source_observe(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                     sd_bus_slot **s) {
        return sdloop_data_source_observe_async(p, path, &fixture_report_timestamp, ctx, on_string, rep, s);
}

static void check_data_source_observe(const Reply *rep) {
        check_string(FIXTURE_VALUE, rep);
}

static int sync_error_log_save_error(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_error_log_save_error(p, path, FIXTURE_ERROR_MESSAGE, e);
}

static int async_error_log_save_error(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                      sd_bus_slot **s) {
        return sdloop_error_log_save_error_async(p, path, FIXTURE_ERROR_MESSAGE, ctx, on_empty, rep, s);
}

/* --- PluginRelayer, Relayer ------------------------------------------------------------------------- */

static int sync_plugin_relayer_new_relayer(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_plugin_relayer_new_relayer(p, FIXTURE_CONFIG_TOML, STATIC_KEYSTORE_PATH, &rep->s, e);
}

static int async_plugin_relayer_new_relayer(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                            sd_bus_slot **s) {
        return sdloop_plugin_relayer_new_relayer_async(p, FIXTURE_CONFIG_TOML, STATIC_KEYSTORE_PATH, ctx, on_string,
                                                       rep, s);
}

static void check_created_relayer_side(const Reply *rep) {
        check_created(env.relayer_server, rep->s);
}

static int sync_relayer_new_config_provider(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_relayer_new_config_provider(p, path, &fixture_relay_args, &rep->s, e);
}

static int async_relayer_new_config_provider(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                             sd_bus_slot **s) {
        return sdloop_relayer_new_config_provider_async(p, path, &fixture_relay_args, ctx, on_string, rep, s);
}

static int sync_relayer_new_plugin_provider(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_relayer_new_plugin_provider(p, path, &fixture_relay_args, &fixture_plugin_args, &rep->s, e);
}

static int async_relayer_new_plugin_provider(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                             sd_bus_slot **s) {
        return sdloop_relayer_new_plugin_provider_async(p, path, &fixture_relay_args, &fixture_plugin_args, ctx,
                                                        on_string, rep, s);
}

static int sync_relayer_get_chain_status(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_relayer_get_chain_status(p, path, &rep->status, e);
}

static int async_relayer_get_chain_status(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                          sd_bus_slot **s) {
        return sdloop_relayer_get_chain_status_async(p, path, ctx, on_chain_status, rep, s);
}

static void check_relayer_get_chain_status(const Reply *rep) {
        CHECK(fixture_check_chain_status(&rep->status, "status", &e));
}

static int sync_relayer_list_node_statuses(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        int32_t total;
        int r;

        r = sdloop_relayer_list_node_statuses(p, path, FIXTURE_PAGE_SIZE, FIXTURE_PAGE_TOKEN, &rep->nodes,
                                              &rep->n_nodes, &total, &rep->s2, e);
        rep->i = total;
        return r;
}

static int async_relayer_list_node_statuses(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                            sd_bus_slot **s) {
        return sdloop_relayer_list_node_statuses_async(p, path, FIXTURE_PAGE_SIZE, FIXTURE_PAGE_TOKEN, ctx,
                                                       on_node_statuses, rep, s);
}

static void check_relayer_list_node_statuses(const Reply *rep) {
        CHECK(fixture_check_node_statuses(rep->nodes, rep->n_nodes, "nodes", &e));
        ck_assert_int_eq(rep->i, FIXTURE_TOTAL_NODES);
        ck_assert_str_eq(strempty(rep->s2), "");
}

static int sync_relayer_transact(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_relayer_transact(p, path, FIXTURE_FROM, FIXTURE_TO, FIXTURE_AMOUNT, FIXTURE_BALANCE_CHECK, e);
}

static int async_relayer_transact(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_relayer_transact_async(p, path, FIXTURE_FROM, FIXTURE_TO, FIXTURE_AMOUNT, FIXTURE_BALANCE_CHECK,
                                             ctx, on_empty, rep, s);
}

/* --- the median provider's components ---------------------------------------------------------------- */

static int sync_ocd_config_digest(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_offchain_config_digester_config_digest(p, path, &fixture_contract_config, rep->digest, e);
}

static int async_ocd_config_digest(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                   sd_bus_slot **s) {
        return sdloop_offchain_config_digester_config_digest_async(p, path, &fixture_contract_config, ctx, on_digest,
                                                                   rep, s);
}

static int sync_ocd_config_digest_prefix(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        uint16_t prefix;
        int r;

        r = sdloop_offchain_config_digester_config_digest_prefix(p, path, &prefix, e);
        rep->u = prefix;
        return r;
}

static int async_ocd_config_digest_prefix(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                          sd_bus_slot **s) {
        return sdloop_offchain_config_digester_config_digest_prefix_async(p, path, ctx, on_uint16, rep, s);
}

static void check_ocd_config_digest_prefix(const Reply *rep) {
        ck_assert_uint_eq(rep->u, FIXTURE_CONFIG_DIGEST_PREFIX);
}

static int sync_cct_latest_config_details(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_contract_config_tracker_latest_config_details(p, path, &rep->u, rep->digest, e);
}

static int async_cct_latest_config_details(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                           sd_bus_slot **s) {
        return sdloop_contract_config_tracker_latest_config_details_async(p, path, ctx, on_u64_digest, rep, s);
}

static void check_cct_latest_config_details(const Reply *rep) {
        ck_assert_uint_eq(rep->u, FIXTURE_CHANGED_IN_BLOCK);
        check_digest(rep);
}

static int sync_cct_latest_config(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_contract_config_tracker_latest_config(p, path, FIXTURE_CHANGED_IN_BLOCK, &rep->config, e);
}

static int async_cct_latest_config(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                   sd_bus_slot **s) {
        return sdloop_contract_config_tracker_latest_config_async(p, path, FIXTURE_CHANGED_IN_BLOCK, ctx,
                                                                  on_contract_config, rep, s);
}

static void check_cct_latest_config(const Reply *rep) {
        CHECK(fixture_check_contract_config(&rep->config, "contract_config", &e));
}

static int sync_cct_latest_block_height(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_contract_config_tracker_latest_block_height(p, path, &rep->u, e);
}

static int async_cct_latest_block_height(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                         sd_bus_slot **s) {
        return sdloop_contract_config_tracker_latest_block_height_async(p, path, ctx, on_uint64, rep, s);
}

static void check_cct_latest_block_height(const Reply *rep) {
        ck_assert_uint_eq(rep->u, FIXTURE_BLOCK_HEIGHT);
}

static int sync_ct_transmit(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_contract_transmitter_transmit(p, path, &fixture_report_context, fixture_report.data,
                                                    fixture_report.size, fixture_signatures, FIXTURE_N_SIGNATURES, e);
}

static int async_ct_transmit(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_contract_transmitter_transmit_async(p, path, &fixture_report_context, fixture_report.data,
                                                          fixture_report.size, fixture_signatures,
                                                          FIXTURE_N_SIGNATURES, ctx, on_empty, rep, s);
}

static int sync_ct_latest_config_digest_and_epoch(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_contract_transmitter_latest_config_digest_and_epoch(p, path, rep->digest, &rep->epoch, e);
}

static int async_ct_latest_config_digest_and_epoch(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                                   sd_bus_slot **s) {
        return sdloop_contract_transmitter_latest_config_digest_and_epoch_async(p, path, ctx, on_digest_epoch, rep,
                                                                                s);
}

static void check_digest_epoch(const Reply *rep) {
        check_digest(rep);
        ck_assert_uint_eq(rep->epoch, FIXTURE_EPOCH);
}

static int sync_ct_from_account(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_contract_transmitter_from_account(p, path, &rep->s, e);
}

static int async_ct_from_account(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_contract_transmitter_from_account_async(p, path, ctx, on_string, rep, s);
}

static void check_ct_from_account(const Reply *rep) {
        check_string(FIXTURE_ACCOUNT, rep);
}

static int sync_rc_build_report(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_report_codec_build_report(p, path, fixture_parsed_observations, FIXTURE_N_PARSED_OBSERVATIONS,
                                                &rep->bytes, e);
}

static int async_rc_build_report(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_report_codec_build_report_async(p, path, fixture_parsed_observations,
                                                      FIXTURE_N_PARSED_OBSERVATIONS, ctx, on_bytes, rep, s);
}

static void check_report(const Reply *rep) {
        check_bytes(&fixture_report, rep);
}

static int sync_rc_median_from_report(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_report_codec_median_from_report(p, path, fixture_report.data, fixture_report.size, &rep->s, e);
}

static int async_rc_median_from_report(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                       sd_bus_slot **s) {
        return sdloop_report_codec_median_from_report_async(p, path, fixture_report.data, fixture_report.size, ctx,
                                                            on_string, rep, s);
}

static void check_rc_median_from_report(const Reply *rep) {
        check_string(FIXTURE_MEDIAN, rep);
}

static int sync_rc_max_report_length(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_report_codec_max_report_length(p, path, FIXTURE_MAX_REPORT_LENGTH_N, &rep->i, e);
}

static int async_rc_max_report_length(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                      sd_bus_slot **s) {
        return sdloop_report_codec_max_report_length_async(p, path, FIXTURE_MAX_REPORT_LENGTH_N, ctx, on_int64, rep,
                                                           s);
}

static void check_rc_max_report_length(const Reply *rep) {
        ck_assert_int_eq(rep->i, FIXTURE_MAX_REPORT_LENGTH);
}

static int sync_mc_latest_transmission_details(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_median_contract_latest_transmission_details(p, path, rep->digest, &rep->epoch, &rep->round,
                                                                  &rep->s, &rep->i, e);
}

static int async_mc_latest_transmission_details(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                                sd_bus_slot **s) {
        return sdloop_median_contract_latest_transmission_details_async(p, path, ctx, on_transmission, rep, s);
}

static void check_mc_latest_transmission_details(const Reply *rep) {
        check_digest_epoch(rep);
        ck_assert_uint_eq(rep->round, FIXTURE_ROUND);
        check_string(FIXTURE_LATEST_ANSWER, rep);
        ck_assert_int_eq(rep->i, FIXTURE_LATEST_TIMESTAMP_USEC);
}

static int sync_mc_latest_round_requested(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_median_contract_latest_round_requested(p, path, FIXTURE_LOOKBACK_USEC, rep->digest, &rep->epoch,
                                                             &rep->round, e);
}

static int async_mc_latest_round_requested(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                           sd_bus_slot **s) {
        return sdloop_median_contract_latest_round_requested_async(p, path, FIXTURE_LOOKBACK_USEC, ctx,
                                                                   on_digest_epoch_round, rep, s);
}

static void check_mc_latest_round_requested(const Reply *rep) {
        check_digest_epoch(rep);
        ck_assert_uint_eq(rep->round, FIXTURE_ROUND);
}

static int sync_occ_encode(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_onchain_config_codec_encode(p, path, &fixture_onchain_config, &rep->bytes, e);
}

static int async_occ_encode(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_onchain_config_codec_encode_async(p, path, &fixture_onchain_config, ctx, on_bytes, rep, s);
}

static void check_occ_encode(const Reply *rep) {
        check_bytes(&fixture_encoded, rep);
}

static int sync_occ_decode(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_onchain_config_codec_decode(p, path, fixture_encoded.data, fixture_encoded.size, &rep->onchain,
                                                  e);
}

static int async_occ_decode(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_onchain_config_codec_decode_async(p, path, fixture_encoded.data, fixture_encoded.size, ctx,
                                                        on_onchain_config, rep, s);
}

static void check_occ_decode(const Reply *rep) {
        CHECK(fixture_check_onchain_config(&rep->onchain, "onchain_config", &e));
}

/* --- PluginMedian, ReportingPluginFactory, ReportingPlugin ----------------------------------------- */

static SdloopMedianDeps median_deps(void) {
        return (SdloopMedianDeps) {
                .provider = sdloop_proxy_get_path(env.provider_proxy),
                .data_source = env.data_source_path,
                .juels_data_source = sdloop_object_get_path(env.juels_data_source),
                .error_log = env.error_log_path,
        };
}

static int sync_plugin_median_new_median_factory(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        SdloopMedianDeps deps = median_deps();

        return sdloop_plugin_median_new_median_factory(p, &deps, &rep->s, e);
}

static int async_plugin_median_new_median_factory(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                                  sd_bus_slot **s) {
        SdloopMedianDeps deps = median_deps();

        return sdloop_plugin_median_new_median_factory_async(p, &deps, ctx, on_string, rep, s);
}

static void check_created_median_side(const Reply *rep) {
        check_created(env.median_server, rep->s);
}

static int sync_rpf_new_reporting_plugin(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_reporting_plugin_factory_new_reporting_plugin(p, path, &fixture_reporting_plugin_config, &rep->s,
                                                                    &rep->info, e);
}

static int async_rpf_new_reporting_plugin(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                          sd_bus_slot **s) {
        return sdloop_reporting_plugin_factory_new_reporting_plugin_async(p, path, &fixture_reporting_plugin_config,
                                                                          ctx, on_reporting_plugin, rep, s);
}

static void check_rpf_new_reporting_plugin(const Reply *rep) {
        check_created_median_side(rep);
        CHECK(fixture_check_reporting_plugin_info(&rep->info, "info", &e));
}

static int sync_rp_query(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_reporting_plugin_query(p, path, &fixture_report_timestamp, &rep->bytes, e);
}

static int async_rp_query(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_reporting_plugin_query_async(p, path, &fixture_report_timestamp, ctx, on_bytes, rep, s);
}

static void check_rp_query(const Reply *rep) {
        check_bytes(&fixture_query, rep);
}

static int sync_rp_observation(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_reporting_plugin_observation(p, path, &fixture_report_timestamp, fixture_query.data,
                                                   fixture_query.size, &rep->bytes, e);
}

static int async_rp_observation(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_reporting_plugin_observation_async(p, path, &fixture_report_timestamp, fixture_query.data,
                                                         fixture_query.size, ctx, on_bytes, rep, s);
}

static void check_rp_observation(const Reply *rep) {
        check_bytes(&fixture_observation, rep);
}

static int sync_rp_report(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_reporting_plugin_report(p, path, &fixture_report_timestamp, fixture_query.data,
                                              fixture_query.size, fixture_observations, FIXTURE_N_OBSERVATIONS,
                                              &rep->b, &rep->bytes, e);
}

static int async_rp_report(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_reporting_plugin_report_async(p, path, &fixture_report_timestamp, fixture_query.data,
                                                    fixture_query.size, fixture_observations, FIXTURE_N_OBSERVATIONS,
                                                    ctx, on_report, rep, s);
}

static void check_rp_report(const Reply *rep) {
        ck_assert(rep->b);
        check_report(rep);
}

static int sync_rp_should_accept(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_reporting_plugin_should_accept_finalized_report(p, path, &fixture_report_timestamp,
                                                                      fixture_report.data, fixture_report.size,
                                                                      &rep->b, e);
}

static int async_rp_should_accept(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_reporting_plugin_should_accept_finalized_report_async(p, path, &fixture_report_timestamp,
                                                                            fixture_report.data, fixture_report.size,
                                                                            ctx, on_bool, rep, s);
}

static int sync_rp_should_transmit(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_reporting_plugin_should_transmit_accepted_report(p, path, &fixture_report_timestamp,
                                                                       fixture_report.data, fixture_report.size,
                                                                       &rep->b, e);
}

static int async_rp_should_transmit(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                    sd_bus_slot **s) {
        return sdloop_reporting_plugin_should_transmit_accepted_report_async(p, path, &fixture_report_timestamp,
                                                                             fixture_report.data, fixture_report.size,
                                                                             ctx, on_bool, rep, s);
}

static void check_true(const Reply *rep) {
        ck_assert(rep->b);
}

static int sync_rp_close(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_reporting_plugin_close(p, path, e);
}

static int async_rp_close(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **s) {
        return sdloop_reporting_plugin_close_async(p, path, ctx, on_empty, rep, s);
}

/* org.sdloop1.Ledger is the ledger relayer's own interface, not one of libsdloop's services: the fixture
 * provider carries it here, answering with fixtures. */
#define FIXTURE_LEDGER_COUNT UINT64_C(123456789012)

static int method_ledger_transmission_count(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "tuy", FIXTURE_LEDGER_COUNT, (uint32_t) FIXTURE_EPOCH,
                                          (uint8_t) FIXTURE_ROUND);
}

static const sd_bus_vtable ledger_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("TransmissionCount", SD_BUS_NO_ARGS, SD_BUS_RESULT("t", count, "u", epoch, "y", round),
                                method_ledger_transmission_count, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int roundtrip_export_ledger(SdloopObject *o) {
        return sdloop_object_add_interface(o, "org.sdloop1.Ledger", ledger_vtable, NULL, NULL);
}

static void on_count_epoch_round(SdloopPeer *peer, int r, uint64_t count, uint32_t epoch, uint8_t round,
                                 sd_bus_error *error, void *userdata) {
        Reply *rep = userdata;

        rep->u = count;
        rep->epoch = epoch;
        rep->round = round;
        reply_finish(rep, r, error);
}

static int sync_ledger_transmission_count(SdloopPeer *p, const char *path, Reply *rep, sd_bus_error *e) {
        return sdloop_ledger_transmission_count(p, path, &rep->u, &rep->epoch, &rep->round, e);
}

static int async_ledger_transmission_count(SdloopPeer *p, const char *path, SdloopContext *ctx, Reply *rep,
                                           sd_bus_slot **s) {
        return sdloop_ledger_transmission_count_async(p, path, ctx, on_count_epoch_round, rep, s);
}

static void check_ledger_transmission_count(const Reply *rep) {
        ck_assert_uint_eq(rep->u, FIXTURE_LEDGER_COUNT);
        ck_assert_uint_eq(rep->epoch, FIXTURE_EPOCH);
        ck_assert_uint_eq(rep->round, FIXTURE_ROUND);
}

/* --- the table ------------------------------------------------------------------------------------- */

/* Naming both generated functions: a renamed or removed one fails the build. */
#define METHOD(fn, short, ...)                                                                           \
        {                                                                                                \
                .name = (sizeof(&fn) + sizeof(&fn##_async)) ? #fn : NULL,                                \
                .call = sync_##short,                                                                    \
                .call_async = async_##short,                                                             \
                __VA_ARGS__                                                                              \
        }

#define RELAYER_SIDE .peer = &env.relayer_client
#define MEDIAN_SIDE  .peer = &env.median_client

const Method roundtrip_methods[] = {
        METHOD(sdloop_service_ready, service_ready, MEDIAN_SIDE, .path = &env.reporting_plugin,
               .check = check_nothing),
        METHOD(sdloop_service_health_report, service_health_report, MEDIAN_SIDE, .path = &env.reporting_plugin,
               .check = check_service_health_report),
        METHOD(sdloop_service_close, service_close, MEDIAN_SIDE, .prepare = roundtrip_new_reporting_plugin,
               .check = check_nothing),

        /* The host's objects, called from the plugin's end of their connection. */
        METHOD(sdloop_keystore_accounts, keystore_accounts, .peer = &env.relayer_server, .path = &env.keystore_path,
               .check = check_keystore_accounts),
        METHOD(sdloop_keystore_sign, keystore_sign, .peer = &env.relayer_server, .path = &env.keystore_path,
               .check = check_keystore_sign),
        METHOD(sdloop_data_source_observe, data_source_observe, .peer = &env.median_server,
               .path = &env.data_source_path, .check = check_data_source_observe),
        METHOD(sdloop_error_log_save_error, error_log_save_error, .peer = &env.median_server,
               .path = &env.error_log_path, .check = check_nothing),

        METHOD(sdloop_plugin_relayer_new_relayer, plugin_relayer_new_relayer, RELAYER_SIDE, .creates = true,
               .check = check_created_relayer_side),
        METHOD(sdloop_relayer_new_config_provider, relayer_new_config_provider, RELAYER_SIDE, .path = &env.relayer,
               .creates = true, .check = check_created_relayer_side),
        METHOD(sdloop_relayer_new_plugin_provider, relayer_new_plugin_provider, RELAYER_SIDE, .path = &env.relayer,
               .creates = true, .check = check_created_relayer_side),
        METHOD(sdloop_relayer_get_chain_status, relayer_get_chain_status, RELAYER_SIDE, .path = &env.relayer,
               .check = check_relayer_get_chain_status),
        METHOD(sdloop_relayer_list_node_statuses, relayer_list_node_statuses, RELAYER_SIDE, .path = &env.relayer,
               .check = check_relayer_list_node_statuses),
        METHOD(sdloop_relayer_transact, relayer_transact, RELAYER_SIDE, .path = &env.relayer,
               .check = check_nothing),

        METHOD(sdloop_offchain_config_digester_config_digest, ocd_config_digest, RELAYER_SIDE,
               .path = &env.median_provider, .check = check_digest),
        METHOD(sdloop_offchain_config_digester_config_digest_prefix, ocd_config_digest_prefix, RELAYER_SIDE,
               .path = &env.median_provider, .check = check_ocd_config_digest_prefix),
        METHOD(sdloop_contract_config_tracker_latest_config_details, cct_latest_config_details, RELAYER_SIDE,
               .path = &env.median_provider, .check = check_cct_latest_config_details),
        METHOD(sdloop_contract_config_tracker_latest_config, cct_latest_config, RELAYER_SIDE,
               .path = &env.median_provider, .check = check_cct_latest_config),
        METHOD(sdloop_contract_config_tracker_latest_block_height, cct_latest_block_height, RELAYER_SIDE,
               .path = &env.median_provider, .check = check_cct_latest_block_height),
        METHOD(sdloop_contract_transmitter_transmit, ct_transmit, RELAYER_SIDE, .path = &env.median_provider,
               .check = check_nothing),
        METHOD(sdloop_contract_transmitter_latest_config_digest_and_epoch, ct_latest_config_digest_and_epoch,
               RELAYER_SIDE, .path = &env.median_provider, .check = check_digest_epoch),
        METHOD(sdloop_contract_transmitter_from_account, ct_from_account, RELAYER_SIDE, .path = &env.median_provider,
               .check = check_ct_from_account),
        METHOD(sdloop_report_codec_build_report, rc_build_report, RELAYER_SIDE, .path = &env.median_provider,
               .check = check_report),
        METHOD(sdloop_report_codec_median_from_report, rc_median_from_report, RELAYER_SIDE,
               .path = &env.median_provider, .check = check_rc_median_from_report),
        METHOD(sdloop_report_codec_max_report_length, rc_max_report_length, RELAYER_SIDE,
               .path = &env.median_provider, .check = check_rc_max_report_length),
        METHOD(sdloop_median_contract_latest_transmission_details, mc_latest_transmission_details, RELAYER_SIDE,
               .path = &env.median_provider, .check = check_mc_latest_transmission_details),
        METHOD(sdloop_median_contract_latest_round_requested, mc_latest_round_requested, RELAYER_SIDE,
               .path = &env.median_provider, .check = check_mc_latest_round_requested),
        METHOD(sdloop_onchain_config_codec_encode, occ_encode, RELAYER_SIDE, .path = &env.median_provider,
               .check = check_occ_encode),
        METHOD(sdloop_onchain_config_codec_decode, occ_decode, RELAYER_SIDE, .path = &env.median_provider,
               .check = check_occ_decode),

        METHOD(sdloop_ledger_transmission_count, ledger_transmission_count, RELAYER_SIDE,
               .path = &env.median_provider, .check = check_ledger_transmission_count),

        METHOD(sdloop_plugin_median_new_median_factory, plugin_median_new_median_factory, MEDIAN_SIDE,
               .creates = true, .check = check_created_median_side),
        METHOD(sdloop_reporting_plugin_factory_new_reporting_plugin, rpf_new_reporting_plugin, MEDIAN_SIDE,
               .path = &env.factory, .creates = true, .check = check_rpf_new_reporting_plugin),
        METHOD(sdloop_reporting_plugin_query, rp_query, MEDIAN_SIDE, .path = &env.reporting_plugin,
               .check = check_rp_query),
        METHOD(sdloop_reporting_plugin_observation, rp_observation, MEDIAN_SIDE, .path = &env.reporting_plugin,
               .check = check_rp_observation),
        METHOD(sdloop_reporting_plugin_report, rp_report, MEDIAN_SIDE, .path = &env.reporting_plugin,
               .check = check_rp_report),
        METHOD(sdloop_reporting_plugin_should_accept_finalized_report, rp_should_accept, MEDIAN_SIDE,
               .path = &env.reporting_plugin, .check = check_true),
        METHOD(sdloop_reporting_plugin_should_transmit_accepted_report, rp_should_transmit, MEDIAN_SIDE,
               .path = &env.reporting_plugin, .check = check_true),
        METHOD(sdloop_reporting_plugin_close, rp_close, MEDIAN_SIDE, .prepare = roundtrip_new_reporting_plugin,
               .check = check_nothing),
};

const size_t roundtrip_n_methods = ELEMENTSOF(roundtrip_methods);
