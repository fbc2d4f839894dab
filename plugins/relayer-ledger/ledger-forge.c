/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Testing only: the forgery of ledger-forge.h. Asynchronous: Accounts(), then every Sign() at once, then the
 * submissions, from the replies; freed with its provider, which cancels what is still in flight. */

#include <sodium.h>

#include "ledger-forge.h"
#include "ledger-report.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"
#include "sdloop-keystore.h"
#include "sdloop-log.h"
#include "sdloop-signing.h"

typedef struct ForgedSignature {
        LedgerForgery *forgery;
        char *account;
        sd_bus_slot *slot;
        SdloopBytes signature; /* empty: not signed (refused, or not yet) */
        uint8_t oracle;
        bool signer; /* the account is the key of configured signer @oracle */
} ForgedSignature;

struct LedgerForgery {
        LedgerProvider *provider;
        SdloopReportContext ctx;
        SdloopBytes report;
        SdloopBytes payload;
        sd_bus_slot *accounts_slot;
        ForgedSignature *signatures;
        size_t n_signatures, n_pending;
};

LedgerForgery *ledger_forgery_free(LedgerForgery *f) {
        if (!f)
                return NULL;
        sd_bus_slot_unref(f->accounts_slot);
        for (size_t i = 0; i < f->n_signatures; i++) {
                sd_bus_slot_unref(f->signatures[i].slot);
                free(f->signatures[i].account);
                sdloop_bytes_done(&f->signatures[i].signature);
        }
        free(f->signatures);
        sdloop_bytes_done(&f->report);
        sdloop_bytes_done(&f->payload);
        return mfree(f);
}

static void forgery_submit(LedgerForgery *f, const char *what, const SdloopAttributed *sigs, size_t n,
                           unsigned *n_refused) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        bool recorded = false;
        int r;

        r = ledger_provider_transmit(f->provider, &f->ctx, &f->report, sigs, n, &recorded, &error);
        if (r < 0) {
                (*n_refused)++;
                log_notice("Forged report of epoch %" PRIu32 " round %u (answer " LEDGER_FORGED_ANSWER ") signed "
                           "by %s: refused: %s", f->ctx.timestamp.epoch, f->ctx.timestamp.round, what,
                           error.message ?: strerror(-r));
        } else
                log_error("Forged report of epoch %" PRIu32 " round %u (answer " LEDGER_FORGED_ANSWER ") signed by "
                         "%s: ACCEPTED by the ledger%s.", f->ctx.timestamp.epoch, f->ctx.timestamp.round, what,
                         recorded ? "" : " (already recorded)");
}

static void forgery_finish(LedgerForgery *f) {
        _cleanup_free_ SdloopAttributed *all = NULL;
        unsigned n_submitted = 0, n_refused = 0;
        size_t n_all = 0, n_signers = 0;

        all = new0(SdloopAttributed, f->n_signatures + 1);
        if (!all) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < f->n_signatures; i++) {
                ForgedSignature *s = f->signatures + i;
                SdloopAttributed a = { .data = s->signature, .oracle = s->oracle };
                _cleanup_free_ char *what = NULL;

                if (s->signature.size == 0)
                        continue;
                if (asprintf(&what, "account %s as oracle %u", s->account, s->oracle) < 0) {
                        log_oom();
                        return;
                }
                forgery_submit(f, what, &a, 1, &n_refused);
                n_submitted++;
                n_signers += s->signer;
        }
        /* Then all together: the signers' keys alone if it has any (one bad signature spoils a report),
         * else every signature it got. */
        for (size_t i = 0; i < f->n_signatures; i++) {
                ForgedSignature *s = f->signatures + i;

                if (s->signature.size > 0 && (n_signers == 0 || s->signer))
                        all[n_all++] = (SdloopAttributed) { .data = s->signature, .oracle = s->oracle };
        }
        if (n_all > 1) {
                forgery_submit(f, n_signers > 0 ? "the signers' accounts together" : "all accounts together", all,
                               n_all, &n_refused);
                n_submitted++;
        }
        log_notice("Forgery done: %zu account%s, %u forged report%s submitted, %u refused.", f->n_signatures,
                   f->n_signatures == 1 ? "" : "s", n_submitted, n_submitted == 1 ? "" : "s", n_refused);
}

static void on_sign(SdloopPeer *peer, int r, SdloopBytes *signed_data, sd_bus_error *error, void *userdata) {
        ForgedSignature *s = userdata;
        LedgerForgery *f = s->forgery;

        s->slot = sd_bus_slot_unref(s->slot);
        if (r < 0)
                log_notice("Forgery: the keystore refused to sign with %s: %s", s->account,
                           error && error->message ? error->message : strerror(-r));
        else {
                s->signature = *signed_data;
                *signed_data = (SdloopBytes) {};
        }

        assert(f->n_pending > 0);
        if (--f->n_pending == 0)
                forgery_finish(f);
}

/* The configured signer whose key @account is, else @k mod n. */
static uint8_t forgery_oracle(const SdloopContractConfig *config, const char *account, size_t k, bool *ret_signer) {
        for (size_t i = 0; i < config->n_signers; i++) {
                char hex[2 * crypto_sign_PUBLICKEYBYTES + 1];

                if (config->signers[i].size != crypto_sign_PUBLICKEYBYTES)
                        continue;
                sodium_bin2hex(hex, sizeof(hex), config->signers[i].data, config->signers[i].size);
                if (streq(hex, account)) {
                        *ret_signer = true;
                        return (uint8_t) i;
                }
        }
        *ret_signer = false;
        return (uint8_t) (k % config->n_signers);
}

static void on_accounts(SdloopPeer *peer, int r, char ***accounts, sd_bus_error *error, void *userdata) {
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig config = {};
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        LedgerForgery *f = userdata;
        LedgerProvider *p = f->provider;
        size_t n;

        f->accounts_slot = sd_bus_slot_unref(f->accounts_slot);
        if (r < 0) {
                log_notice("Forgery: the keystore does not list accounts: %s",
                           error && error->message ? error->message : strerror(-r));
                return;
        }
        r = ledger_store_latest_config(p->store, p->contract_id, NULL, &config, &e);
        if (r < 0 || config.n_signers == 0) {
                log_notice("Forgery: contract %s has no configuration to forge for.", p->contract_id);
                return;
        }

        n = strv_length(*accounts);
        f->signatures = new0(ForgedSignature, n);
        if (!f->signatures) {
                log_oom();
                return;
        }
        for (size_t k = 0; k < n; k++) {
                ForgedSignature *s = f->signatures + f->n_signatures;

                s->forgery = f;
                s->account = strdup((*accounts)[k]);
                if (!s->account) {
                        log_oom();
                        break;
                }
                s->oracle = forgery_oracle(&config, s->account, k, &s->signer);
                f->n_signatures++;
                r = sdloop_keystore_sign_async(peer, p->forge_keystore, s->account, f->payload.data, f->payload.size,
                                               NULL, on_sign, s, &s->slot);
                if (r < 0) {
                        log_notice_errno(r, "Forgery: cannot ask the keystore to sign with %s: %m", s->account);
                        continue;
                }
                f->n_pending++;
        }
        log_notice("Forgery: asking the keystore to sign a forged report with each of its %zu account%s.", n,
                   n == 1 ? "" : "s");
        if (f->n_pending == 0)
                forgery_finish(f);
}

int ledger_forgery_start(LedgerProvider *p, const SdloopReportContext *ctx) {
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig config = {};
        _cleanup_(ledger_forgery_freep) LedgerForgery *f = NULL;
        _cleanup_free_ SdloopParsedObservation *obs = NULL;
        int r;

        assert(p);
        assert(p->forge_keystore);
        assert(!p->forgery);

        r = ledger_store_latest_config(p->store, p->contract_id, NULL, &config, NULL);
        if (r < 0)
                return r;

        f = new0(LedgerForgery, 1);
        if (!f)
                return -ENOMEM;
        f->provider = p;
        /* The round after the real one: a forgery accepted there would be the contract's latest answer. */
        f->ctx = *ctx;
        if (f->ctx.timestamp.round < UINT8_MAX)
                f->ctx.timestamp.round++;
        else {
                f->ctx.timestamp.epoch++;
                f->ctx.timestamp.round = 1;
        }

        obs = new0(SdloopParsedObservation, config.n_signers);
        if (!obs)
                return -ENOMEM;
        for (size_t i = 0; i < config.n_signers; i++)
                obs[i] = (SdloopParsedObservation) {
                        .timestamp = 1,
                        .value = (char *) LEDGER_FORGED_ANSWER,
                        .juels_per_fee_coin = (char *) "1",
                        .observer = (uint8_t) i,
                };
        r = ledger_report_build(obs, config.n_signers, &f->report, NULL);
        if (r < 0)
                return r;
        r = sdloop_report_signing_payload(&f->ctx, f->report.data, f->report.size, &f->payload);
        if (r < 0)
                return r;

        r = sdloop_keystore_accounts_async(sdloop_object_get_peer(p->object), p->forge_keystore, NULL, on_accounts, f,
                                           &f->accounts_slot);
        if (r < 0)
                return log_notice_errno(r, "Forgery: cannot reach the keystore %s: %m", p->forge_keystore);

        p->forgery = TAKE_PTR(f);
        return 0;
}
