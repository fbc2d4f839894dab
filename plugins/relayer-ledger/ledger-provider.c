/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The six provider component interfaces over one contract of the ledger. */

#include "ledger-digest.h"
#include "ledger-forge.h"
#include "ledger-onchain.h"
#include "ledger-provider.h"
#include "ledger-report.h"
#include "ledger-verify.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"
#include "sdloop-log.h"

/* Log records written while serving a provider carry its contract and transmitter: the call's context gets
 * them (where the caller did not say), for as long as the call is served, answered later or not. */
static void log_context_set(LedgerProvider *p) {
        SdloopContext *c = sdloop_context_current();

        if (!sdloop_context_get_value(c, SDLOOP_LOG_CONTRACT_ID))
                (void) sdloop_context_set_value(c, SDLOOP_LOG_CONTRACT_ID, p->contract_id);
        if (!sdloop_context_get_value(c, SDLOOP_LOG_TRANSMITTER_ID))
                (void) sdloop_context_set_value(c, SDLOOP_LOG_TRANSMITTER_ID, p->transmitter_id);
}
#define PROVIDER_LOG_CONTEXT(p) log_context_set(p)

static bool strv_contains(char * const *l, const char *s) {
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

/* --- OffchainConfigDigester ------------------------------------------------------------------------------- */

static int digester_config_digest(void *userdata, const SdloopContractConfig *config,
                                  uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], sd_bus_error *error) {
        LedgerProvider *p = userdata;

        return ledger_config_digest(ledger_store_get_chain_id(p->store), p->contract_id, config, ret_digest);
}

static int digester_config_digest_prefix(void *userdata, uint16_t *ret_prefix, sd_bus_error *error) {
        *ret_prefix = LEDGER_CONFIG_DIGEST_PREFIX;
        return 0;
}

const SdloopOffchainConfigDigesterOps ledger_offchain_config_digester_ops = {
        .config_digest = digester_config_digest,
        .config_digest_prefix = digester_config_digest_prefix,
};

/* --- ContractConfigTracker -------------------------------------------------------------------------------- */

/* The block and digest of the latest configuration; zeros when the contract has none yet, as a chain
 * reports a contract that was never configured. */
static int provider_latest_config_details(LedgerProvider *p, uint64_t *ret_block,
                                          uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], sd_bus_error *error) {
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig c = {};
        uint64_t block;
        int r;

        r = ledger_store_latest_config(p->store, p->contract_id, &block, &c, error);
        if (r == -ENOENT) {
                *ret_block = 0;
                memset(ret_digest, 0, SDLOOP_DIGEST_SIZE);
                return 0;
        }
        if (r < 0)
                return r;

        *ret_block = block;
        memcpy(ret_digest, c.digest, SDLOOP_DIGEST_SIZE);
        return 0;
}

static int tracker_latest_config_details(void *userdata, uint64_t *ret_changed_in_block,
                                         uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], sd_bus_error *error) {
        return provider_latest_config_details(userdata, ret_changed_in_block, ret_digest, error);
}

static int tracker_latest_config(void *userdata, uint64_t changed_in_block, SdloopContractConfig *ret,
                                 sd_bus_error *error) {
        LedgerProvider *p = userdata;

        return ledger_store_config_in_block(p->store, p->contract_id, changed_in_block, ret, error);
}

static int tracker_latest_block_height(void *userdata, uint64_t *ret_height, sd_bus_error *error) {
        LedgerProvider *p = userdata;

        return ledger_store_block_height(p->store, ret_height, error);
}

const SdloopContractConfigTrackerOps ledger_contract_config_tracker_ops = {
        .latest_config_details = tracker_latest_config_details,
        .latest_config = tracker_latest_config,
        .latest_block_height = tracker_latest_block_height,
};

/* --- ContractTransmitter ---------------------------------------------------------------------------------- */

int ledger_provider_transmit(LedgerProvider *p, const SdloopReportContext *ctx, const SdloopBytes *report,
                             const SdloopAttributed *signatures, size_t n_signatures, bool *ret_recorded,
                             sd_bus_error *error) {
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig config = {};
        _cleanup_free_ char *answer = NULL;
        bool recorded = false;
        uint64_t block = 0;
        int r;

        PROVIDER_LOG_CONTEXT(p);

        r = ledger_store_latest_config(p->store, p->contract_id, NULL, &config, error);
        if (r == -ENOENT)
                return sdloop_error_invalid(error, "report_context.digest", "contract %s has no configuration",
                                            p->contract_id);
        if (r < 0)
                return r;

        /* Like a contract that takes reports from its transmitters only. */
        if (!strv_contains(config.transmitters, p->transmitter_id))
                return sdloop_error_invalid(error, "from_account", "%s is not a transmitter of the current "
                                            "configuration of %s", p->transmitter_id, p->contract_id);

        r = ledger_verify_transmission(&config, ctx, report->data, report->size, signatures, n_signatures, error);
        if (r < 0) {
                log_warning("Refused report of epoch %" PRIu32 " round %u: %s", ctx->timestamp.epoch,
                            ctx->timestamp.round, error && error->message ? error->message : strerror(-r));
                return r;
        }

        /* The answer is what the contract would store: the median of a median report. A generic plugin's
         * report is opaque to us and records 0. */
        r = ledger_report_median(report->data, report->size, &answer, p->type == LEDGER_PROVIDER_MEDIAN ? error : NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (p->type == LEDGER_PROVIDER_MEDIAN)
                        return r;
                answer = strdup("0");
                if (!answer)
                        return -ENOMEM;
        }

        r = ledger_store_record_transmission(p->store, p->contract_id, &ctx->timestamp, p->transmitter_id, answer,
                                             report->data, report->size, &recorded, &block, error);
        if (r < 0) {
                log_warning("Refused report of epoch %" PRIu32 " round %u: %s", ctx->timestamp.epoch,
                            ctx->timestamp.round, error && error->message ? error->message : strerror(-r));
                return r;
        }

        if (recorded)
                log_info("Transmitted report of epoch %" PRIu32 " round %u, answer %s, in block %" PRIu64 ".",
                         ctx->timestamp.epoch, ctx->timestamp.round, answer, block);
        else
                log_debug("Report of epoch %" PRIu32 " round %u was already transmitted, nothing to do.",
                          ctx->timestamp.epoch, ctx->timestamp.round);
        if (ret_recorded)
                *ret_recorded = recorded;
        return 0;
}

static int transmitter_transmit(void *userdata, const SdloopReportContext *ctx, const SdloopBytes *report,
                                const SdloopAttributed *signatures, size_t n_signatures, sd_bus_error *error) {
        LedgerProvider *p = userdata;

        /* Testing only: a relayer that turns against its oracles tries its forgery next to the first real
         * report, under the same configuration. */
        if (p->forge_keystore && !p->forgery && p->type == LEDGER_PROVIDER_MEDIAN && p->object)
                (void) ledger_forgery_start(p, ctx);

        return ledger_provider_transmit(p, ctx, report, signatures, n_signatures, NULL, error);
}

static int transmitter_latest_config_digest_and_epoch(void *userdata, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                                      uint32_t *ret_epoch, sd_bus_error *error) {
        _cleanup_(ledger_transmission_done) LedgerTransmission t = {};
        LedgerProvider *p = userdata;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint64_t block;
        int r;

        r = provider_latest_config_details(p, &block, digest, error);
        if (r < 0)
                return r;

        /* A new configuration starts again at epoch 0, as the contract's setConfig resets it. */
        r = ledger_store_latest_transmission(p->store, p->contract_id, digest, 0, &t, error);
        if (r < 0 && r != -ENOENT)
                return r;

        memcpy(ret_digest, digest, SDLOOP_DIGEST_SIZE);
        *ret_epoch = r >= 0 ? t.epoch : 0;
        return 0;
}

static int transmitter_from_account(void *userdata, char **ret_account, sd_bus_error *error) {
        LedgerProvider *p = userdata;
        char *s;

        s = strdup(strempty(p->transmitter_id));
        if (!s)
                return -ENOMEM;
        *ret_account = s;
        return 0;
}

const SdloopContractTransmitterOps ledger_contract_transmitter_ops = {
        .transmit = transmitter_transmit,
        .latest_config_digest_and_epoch = transmitter_latest_config_digest_and_epoch,
        .from_account = transmitter_from_account,
};

/* --- ReportCodec ------------------------------------------------------------------------------------------ */

static int codec_build_report(void *userdata, const SdloopParsedObservation *obs, size_t n_obs,
                              SdloopBytes *ret_report, sd_bus_error *error) {
        return ledger_report_build(obs, n_obs, ret_report, error);
}

static int codec_median_from_report(void *userdata, const SdloopBytes *report, char **ret_median,
                                    sd_bus_error *error) {
        return ledger_report_median(report->data, report->size, ret_median, error);
}

static int codec_max_report_length(void *userdata, int64_t n, int64_t *ret_max, sd_bus_error *error) {
        return ledger_report_max_length(n, ret_max, error);
}

const SdloopReportCodecOps ledger_report_codec_ops = {
        .build_report = codec_build_report,
        .median_from_report = codec_median_from_report,
        .max_report_length = codec_max_report_length,
};

/* --- MedianContract --------------------------------------------------------------------------------------- */

static int median_latest_transmission_details(void *userdata, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                              uint32_t *ret_epoch, uint8_t *ret_round, char **ret_latest_answer,
                                              int64_t *ret_latest_timestamp_usec, sd_bus_error *error) {
        _cleanup_(ledger_transmission_done) LedgerTransmission t = {}, current = {};
        LedgerProvider *p = userdata;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint64_t block;
        char *answer;
        int r, k;

        /* As OCR2Aggregator.latestTransmissionDetails(): the contract's current config digest, the epoch
         * and round of the latest transmission under it (0, 0 right after setConfig), and the latest
         * answer and its timestamp whatever configuration it was made under. */
        r = provider_latest_config_details(p, &block, digest, error);
        if (r < 0)
                return r;
        k = ledger_store_latest_transmission(p->store, p->contract_id, digest, 0, &current, error);
        if (k < 0 && k != -ENOENT)
                return k;
        r = ledger_store_latest_transmission(p->store, p->contract_id, NULL, 0, &t, error);
        if (r < 0 && r != -ENOENT)
                return r;

        answer = strdup(r >= 0 ? t.answer : "0");
        if (!answer)
                return -ENOMEM;

        memcpy(ret_digest, digest, SDLOOP_DIGEST_SIZE);
        *ret_epoch = k >= 0 ? current.epoch : 0;
        *ret_round = k >= 0 ? current.round : 0;
        *ret_latest_answer = answer;
        *ret_latest_timestamp_usec = r >= 0 ? (int64_t) MIN(t.time_usec, (uint64_t) INT64_MAX) : 0;
        return 0;
}

static int median_latest_round_requested(void *userdata, uint64_t lookback_usec,
                                         uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], uint32_t *ret_epoch,
                                         uint8_t *ret_round, sd_bus_error *error) {
        /* OCR2Aggregator records a RoundRequested event when someone calls requestNewRound(), with the
         * epoch and round of the latest transmission at that time; the median plugin reports when such a
         * request is not older than the latest transmission. The ledger offers no way to request a
         * round, so there is never one: zeros, as the contract answers without a request in the window.
         * (Answering with the latest transmission would read as a fresh request in every round.) */
        memset(ret_digest, 0, SDLOOP_DIGEST_SIZE);
        *ret_epoch = 0;
        *ret_round = 0;
        return 0;
}

const SdloopMedianContractOps ledger_median_contract_ops = {
        .latest_transmission_details = median_latest_transmission_details,
        .latest_round_requested = median_latest_round_requested,
};

/* --- OnchainConfigCodec ----------------------------------------------------------------------------------- */

static int onchain_encode(void *userdata, const SdloopOnchainConfig *config, SdloopBytes *ret_encoded,
                          sd_bus_error *error) {
        return ledger_onchain_config_encode(config, ret_encoded, error);
}

static int onchain_decode(void *userdata, const SdloopBytes *encoded, SdloopOnchainConfig *ret, sd_bus_error *error) {
        return ledger_onchain_config_decode(encoded->data, encoded->size, ret, error);
}

const SdloopOnchainConfigCodecOps ledger_onchain_config_codec_ops = {
        .encode = onchain_encode,
        .decode = onchain_decode,
};

/* --- org.sdloop1.Ledger ---------------------------------------------------------------------------------- */

/* The ledger's durable record of the contract, for a host that counts what was transmitted across its own
 * restarts (dbus/org.sdloop1.Ledger.xml). Answered at once: one read of the store. */
static int method_transmission_count(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopBinding *b = userdata;
        LedgerProvider *p = b->userdata;
        uint64_t count = 0;
        uint32_t epoch = 0;
        uint8_t round = 0;
        int r;

        PROVIDER_LOG_CONTEXT(p);

        r = ledger_store_transmission_count(p->store, p->contract_id, &count, &epoch, &round, error);
        if (r < 0)
                return sdloop_error_ensure(error, r, "counting transmissions");
        return sd_bus_reply_method_return(m, "tuy", count, epoch, round);
}

static const sd_bus_vtable ledger_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("TransmissionCount", SD_BUS_NO_ARGS, SD_BUS_RESULT("t", count, "u", epoch, "y", round),
                                method_transmission_count, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* --- life cycle ------------------------------------------------------------------------------------------- */

int ledger_provider_new(LedgerStore *store, LedgerProviderType type, const char *contract_id,
                        const char *transmitter_id, LedgerProvider **ret, sd_bus_error *error) {
        _cleanup_(ledger_provider_freep) LedgerProvider *p = NULL;
        int r;

        assert(store);
        assert(contract_id);
        assert(ret);

        if (isempty(contract_id))
                return sdloop_error_invalid(error, "relay_args.contract_id", "empty contract id");

        p = new0(LedgerProvider, 1);
        if (!p)
                return -ENOMEM;
        p->store = ledger_store_ref(store);
        p->type = type;
        p->contract_id = strdup(contract_id);
        if (!p->contract_id)
                return -ENOMEM;

        if (type != LEDGER_PROVIDER_CONFIG) {
                _cleanup_(sdloop_contract_config_done) SdloopContractConfig config = {};

                if (isempty(transmitter_id))
                        return sdloop_error_invalid(error, "plugin_args.transmitter_id", "empty transmitter id");
                r = ledger_store_latest_config(store, contract_id, NULL, &config, error);
                if (r == -ENOENT)
                        return sdloop_error_invalid(error, "plugin_args.transmitter_id",
                                                    "contract %s has no configuration yet, so no transmitters: "
                                                    "seed one with relay_config.config", contract_id);
                if (r < 0)
                        return r;
                if (!strv_contains(config.transmitters, transmitter_id))
                        return sdloop_error_invalid(error, "plugin_args.transmitter_id",
                                                    "%s is not a transmitter of contract %s", transmitter_id,
                                                    contract_id);
                p->transmitter_id = strdup(transmitter_id);
                if (!p->transmitter_id)
                        return -ENOMEM;
        }

        /* What is current now is what the creator sees; only later changes are announced. */
        r = provider_latest_config_details(p, &p->seen_block, p->seen_digest, error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

LedgerProvider *ledger_provider_free(LedgerProvider *p) {
        if (!p)
                return NULL;
        ledger_forgery_free(p->forgery);
        ledger_store_unref(p->store);
        free(p->contract_id);
        free(p->transmitter_id);
        free(p->forge_keystore);
        return mfree(p);
}

static void provider_object_close(void *userdata) {
        LedgerProvider *p = userdata;

        if (p->on_close)
                p->on_close(p, p->on_close_userdata);
        ledger_provider_free(p);
}

static int provider_health_report(void *userdata, SdloopHealth *health) {
        LedgerProvider *p = userdata;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t height;
        int r;

        r = ledger_store_block_height(p->store, &height, &error);
        if (r < 0)
                return sdloop_health_addf(health, sdloop_object_get_name(p->object), "ledger unreadable: %s",
                                          error.message ?: strerror(-r));
        return sdloop_health_add(health, sdloop_object_get_name(p->object), "");
}

int ledger_provider_publish(LedgerProvider *p, SdloopObject *parent, sd_bus_error *error) {
        static const SdloopObjectOps ops = {
                .health_report = provider_health_report,
                .close = provider_object_close,
        };
        SdloopObject *o;
        int r;

        assert(p);
        assert(!p->object);
        assert(parent);

        r = sdloop_object_new(sdloop_object_get_peer(parent), parent, "provider", &ops, p, &o);
        if (r < 0) {
                ledger_provider_free(p);
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "creating provider object: %s", strerror(-r));
        }
        p->object = o;

        r = sdloop_offchain_config_digester_export(o, &ledger_offchain_config_digester_ops, p);
        if (r >= 0)
                r = sdloop_contract_config_tracker_export(o, &ledger_contract_config_tracker_ops, p);
        if (r >= 0 && p->type != LEDGER_PROVIDER_CONFIG)
                r = sdloop_contract_transmitter_export(o, &ledger_contract_transmitter_ops, p);
        if (r >= 0 && p->type == LEDGER_PROVIDER_MEDIAN)
                r = sdloop_report_codec_export(o, &ledger_report_codec_ops, p);
        if (r >= 0 && p->type == LEDGER_PROVIDER_MEDIAN)
                r = sdloop_median_contract_export(o, &ledger_median_contract_ops, p);
        if (r >= 0 && p->type == LEDGER_PROVIDER_MEDIAN)
                r = sdloop_onchain_config_codec_export(o, &ledger_onchain_config_codec_ops, p);
        if (r >= 0)
                r = sdloop_object_add_interface(o, LEDGER_INTERFACE, ledger_vtable, NULL, p);
        if (r < 0) {
                /* The object owns the provider now: closing it frees both. */
                p->on_close = NULL;
                sdloop_object_close(o);
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "exporting provider interfaces: %s",
                                         strerror(-r));
        }
        return 0;
}

int ledger_provider_refresh(LedgerProvider *p) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char hex[LEDGER_DIGEST_HEX_SIZE];
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint64_t block;
        int r;

        PROVIDER_LOG_CONTEXT(p);

        r = provider_latest_config_details(p, &block, digest, &error);
        if (r < 0)
                return log_warning_errno(r, "Failed to read the configuration of %s: %s", p->contract_id,
                                         error.message ?: strerror(-r));

        if (block == p->seen_block && memcmp(digest, p->seen_digest, SDLOOP_DIGEST_SIZE) == 0)
                return 0;

        p->seen_block = block;
        memcpy(p->seen_digest, digest, SDLOOP_DIGEST_SIZE);
        log_info("Configuration of %s changed in block %" PRIu64 ", digest %s.", p->contract_id, block,
                 ledger_digest_to_hex(digest, hex));

        if (!p->object)
                return 1;
        r = sdloop_contract_config_tracker_emit_config_changed(p->object, block, digest);
        if (r < 0)
                return log_warning_errno(r, "Failed to emit ConfigChanged for %s: %m", p->contract_id);
        return 1;
}
