/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ledger relayer's decoders (plugins/relayer-ledger): the median report, the onchain config, the
 * relayer config and the relay config.
 *
 * Input: a byte choosing the decoder, then its input (bytes, or JSON text). A fifth mode builds a report
 * from observations made of the input (n, then per observation 4 bytes of timestamp, 8 of value, 4 of
 * juels, 1 observer) and decodes it again.
 *
 * Invariants: a refusal is -EINVAL, InvalidArgument naming the field the decoder documents, sendable;
 * an onchain config decodes, encodes to the same 65 bytes; a report built decodes, its median is the
 * middle of the sorted values, and it fits ledger_report_max_length(n); an accepted relay config seed
 * passes ledger_contract_config_validate(). */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "ledger-config.h"
#include "ledger-onchain.h"
#include "ledger-report.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"

static void fuzz_report(const uint8_t *data, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *median = NULL;
        int r;

        r = ledger_report_median(data, size, &median, &error);
        fuzz_note("report: %s", r < 0 ? error.message : median);
        if (r < 0) {
                fuzz_check_bus_error(r, &error, NULL, "report: ");
                fuzz_assert(!median, median);
                return;
        }
        fuzz_assert(sdloop_decimal_is_valid(median), median);
}

static void fuzz_onchain(const uint8_t *data, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopOnchainConfig c = {}, c2 = {};
        SdloopBytes b = {};
        int r;

        r = ledger_onchain_config_decode(data, size, &c, &error);
        fuzz_note("onchain config: %s", r < 0 ? error.message : "accepted");
        if (r < 0) {
                fuzz_check_bus_error(r, &error, NULL, NULL);
                fuzz_assert(!c.min && !c.max, "result not zeroed");
                return;
        }
        fuzz_assert(sdloop_decimal_is_valid(c.min) && sdloop_decimal_is_valid(c.max), c.min);
        fuzz_assert(sdloop_decimal_compare(c.min, c.max) <= 0, c.min);

        r = ledger_onchain_config_encode(&c, &b, &error);
        fuzz_assert(r >= 0, error.message);
        fuzz_assert(b.size == size && memcmp(b.data, data, size) == 0, "encoding differs from the input");
        r = ledger_onchain_config_decode(b.data, b.size, &c2, &error);
        fuzz_assert(r >= 0, error.message);
        fuzz_assert(streq(c.min, c2.min) && streq(c.max, c2.max), c2.min);

        sdloop_bytes_done(&b);
        sdloop_onchain_config_done(&c);
        sdloop_onchain_config_done(&c2);
}

static void fuzz_relayer_config(const uint8_t *data, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        LedgerRelayerConfig c = {};
        int r;

        fuzz_assert(text, "out of memory");
        r = ledger_relayer_config_parse(text, &c, &error);
        fuzz_note("relayer config: %s", r < 0 ? error.message : "accepted");
        if (r < 0) {
                fuzz_check_bus_error(r, &error, NULL, NULL);
                return;
        }
        fuzz_assert(c.chain_id, "no chain_id");
        for (size_t i = 0; i < c.n_balances; i++)
                fuzz_assert(sdloop_decimal_is_valid(c.balances[i].amount) && c.balances[i].amount[0] != '-',
                            c.balances[i].amount);
        for (size_t i = 0; i < c.n_nodes; i++)
                fuzz_assert(c.nodes[i].name && c.nodes[i].config && c.nodes[i].state, "node incomplete");
        ledger_relayer_config_done(&c);
}

static void fuzz_relay_config(const uint8_t *data, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        LedgerRelayConfig c = {};
        int r;

        fuzz_assert(text, "out of memory");
        r = ledger_relay_config_parse(text, &c, &error);
        fuzz_note("relay config: %s", r < 0 ? error.message : "accepted");
        if (r < 0) {
                fuzz_check_bus_error(r, &error, NULL, NULL);
                return;
        }
        if (c.has_seed) {
                r = ledger_contract_config_validate(&c.seed, "seed", &error);
                fuzz_assert(r >= 0, error.message);
        }
        ledger_relay_config_done(&c);
}

static int compare_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

        return (x > y) - (x < y);
}

#define OBSERVATION_BYTES 17U

static void fuzz_build(const uint8_t *data, size_t size) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopParsedObservation obs[40] = {};
        int64_t values[40];
        char expected[32];
        _cleanup_free_ char *median = NULL;
        SdloopBytes report = {};
        int64_t max = 0;
        size_t n;
        int r;

        n = fuzz_take_u8(&data, &size) % ELEMENTSOF(obs);
        n = MIN(n, size / OBSERVATION_BYTES);
        for (size_t i = 0; i < n; i++, data += OBSERVATION_BYTES) {
                uint32_t juels;

                memcpy(&obs[i].timestamp, data, 4);
                memcpy(&values[i], data + 4, 8);
                memcpy(&juels, data + 12, 4);
                obs[i].observer = data[16];
                fuzz_assert(asprintf(&obs[i].value, "%" PRIi64, values[i]) >= 0, "asprintf");
                fuzz_assert(asprintf(&obs[i].juels_per_fee_coin, "%" PRIu32, juels) >= 0, "asprintf");
        }

        r = ledger_report_build(obs, n, &report, &error);
        fuzz_note("build of %zu: %s", n, r < 0 ? error.message : "built");
        if (r < 0) {
                fuzz_check_bus_error(r, &error, NULL, "observations");
                fuzz_assert(n == 0 || n > LEDGER_ORACLES_MAX, error.message);
                goto finish;
        }
        fuzz_assert(n > 0, "built a report of no observations");
        fuzz_assert(ledger_report_max_length((int64_t) n, &max, &error) >= 0, error.message);
        fuzz_assert(report.size <= (uint64_t) max, "report longer than ledger_report_max_length()");

        r = ledger_report_median(report.data, report.size, &median, &error);
        fuzz_assert(r >= 0, error.message);
        qsort(values, n, sizeof values[0], compare_i64);
        snprintf(expected, sizeof expected, "%" PRIi64, values[n / 2]);
        fuzz_assert(streq(median, expected), median);

finish:
        sdloop_bytes_done(&report);
        for (size_t i = 0; i < n; i++) {
                free(obs[i].value);
                free(obs[i].juels_per_fee_coin);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        switch (fuzz_take_u8(&data, &size) % 5) {
        case 0:
                fuzz_report(data, size);
                break;
        case 1:
                fuzz_onchain(data, size);
                break;
        case 2:
                fuzz_relayer_config(data, size);
                break;
        case 3:
                fuzz_relay_config(data, size);
                break;
        case 4:
                fuzz_build(data, size);
                break;
        }
        return 0;
}
