/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Testing only: a relayer that turns against its oracles (relayer config "test_forge_reports": true).
 *
 * Next to the first real report a median provider transmits, it makes a report the oracles never agreed on
 * (every observation LEDGER_FORGED_ANSWER, under the real report's configuration, one round later), asks
 * its Keystore to sign it with every account Accounts() lists, and submits it to the ledger as Transmit
 * would: once with each account's signature alone and once with all of them, each attributed to the
 * configured signer whose key the account is (else to oracle k mod n). Each outcome is logged ("Forged
 * report … refused: …" or "… ACCEPTED …"). Only a relayer that can sign with the oracles' keys succeeds. */

#include "ledger-provider.h"

#define LEDGER_FORGED_ANSWER "666"

/* Start the forgery on @p (p->forge_keystore set, p->object published); p->forgery owns it. */
int ledger_forgery_start(LedgerProvider *p, const SdloopReportContext *ctx);
LedgerForgery *ledger_forgery_free(LedgerForgery *f);
static inline void ledger_forgery_freep(LedgerForgery **f) {
        ledger_forgery_free(*f);
}
