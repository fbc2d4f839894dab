/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes corpus/codec/: for each reader of fuzz-codec.c (by its index there), messages written with the
 * codec's own writers, as valid inputs to mutate from. Usage: fuzz-codec-seeds DIR */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "macro.h"
#include "sdloop-codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        return 0;
}

static const char *dir;

static sd_bus_message *new_message(void) {
        sd_bus_message *m = NULL;

        fuzz_assert(sd_bus_message_new_signal(fuzz_bus(), &m, "/", "org.sdloop1.Fuzz", "Seed") >= 0, "new");
        return m;
}

static void save(unsigned reader, const char *name, sd_bus_message *m) {
        _cleanup_free_ uint8_t *body = NULL;
        _cleanup_free_ char *path = NULL;
        size_t size;
        FILE *f;

        fuzz_assert(fuzz_bus_message_body(m, &body, &size) >= 0, name);
        fuzz_assert(asprintf(&path, "%s/%02u-%s", dir, reader, name) >= 0, "asprintf");
        f = fopen(path, "we");
        fuzz_assert(f, path);
        fputc((int) reader, f);
        fputc(0, f);
        fwrite(body, 1, size, f);
        fuzz_assert(fclose(f) == 0, path);
        sd_bus_message_unref(m);
}

int main(int argc, char *argv[]) {
        static const uint8_t digest[SDLOOP_DIGEST_SIZE] = { 0x01, 0x02, 0x03, [31] = 0xff };
        uint8_t signers[4][32] = { { 1 }, { 2 }, { 3 }, { 4 } };
        SdloopBytes signer_bytes[4];
        char *transmitters[] = { (char *) "0xa", (char *) "0xb", (char *) "0xc", (char *) "0xd", NULL };
        sd_bus_message *m;

        if (argc != 2) {
                fprintf(stderr, "usage: %s DIR\n", argv[0]);
                return EXIT_FAILURE;
        }
        dir = argv[1];
        for (size_t i = 0; i < 4; i++)
                signer_bytes[i] = (SdloopBytes) { signers[i], 32 };

        m = new_message();
        sd_bus_message_append(m, "s", "-123456789012345678901234567890");
        save(0, "decimal", m);

        m = new_message();
        sdloop_append_digest(m, digest);
        save(1, "digest", m);

        m = new_message();
        sdloop_append_bytes(m, "observation", 11);
        save(2, "bytes", m);

        m = new_message();
        sdloop_append_bytes(m, "", 0);
        save(3, "bytes-empty", m);

        m = new_message();
        sdloop_append_report_timestamp(m, &(SdloopReportTimestamp) { .epoch = 7, .round = 3 });
        save(4, "report-timestamp", m);

        m = new_message();
        sdloop_append_report_context(m, &(SdloopReportContext) { .timestamp.epoch = 1, .extra_hash = { 9 } });
        save(5, "report-context", m);

        m = new_message();
        sdloop_append_contract_config(m, &(SdloopContractConfig) {
                .config_count = 2, .signers = signer_bytes, .n_signers = 4, .transmitters = transmitters,
                .f = 1, .onchain_config = { (uint8_t *) "\1", 1 }, .offchain_config_version = 1,
        });
        save(6, "contract-config", m);

        m = new_message();
        sdloop_append_relay_args(m, &(SdloopRelayArgs) {
                .external_job_id = (char *) "123e4567-e89b-12d3-a456-426614174000", .job_id = 5,
                .contract_id = (char *) "ledger:feed", .new = true,
                .relay_config = (char *) "{\"ledger\": \"feed\"}", .provider_type = (char *) "median",
        });
        save(7, "relay-args", m);

        m = new_message();
        sdloop_append_plugin_args(m, &(SdloopPluginArgs) {
                .transmitter_id = (char *) "0xa", .plugin_config = (char *) "[1, {\"a\": null}]",
        });
        save(8, "plugin-args", m);

        m = new_message();
        sdloop_append_reporting_plugin_config(m, &(SdloopReportingPluginConfig) {
                .oracle_id = 1, .n = 4, .f = 1, .estimated_round_interval_usec = 1000000,
                .max_duration_report_usec = 2000000,
        });
        save(9, "reporting-plugin-config", m);

        m = new_message();
        sdloop_append_reporting_plugin_info(m, &(SdloopReportingPluginInfo) {
                .name = (char *) "NumericalMedian", .max_observation_length = 100, .max_report_length = 1000,
        });
        save(10, "reporting-plugin-info", m);

        m = new_message();
        sdloop_append_chain_status(m, &(SdloopChainStatus) {
                .id = (char *) "ledger", .enabled = true, .config = (char *) "{}",
        });
        save(11, "chain-status", m);

        m = new_message();
        sdloop_append_onchain_config(m, &(SdloopOnchainConfig) { .min = (char *) "-10", .max = (char *) "10" });
        save(12, "onchain-config", m);

        m = new_message();
        sdloop_append_attributed_array(m, (SdloopAttributed[]) {
                { { (uint8_t *) "ab", 2 }, 0 }, { { (uint8_t *) "cde", 3 }, 3 },
        }, 2);
        save(13, "attributed", m);

        m = new_message();
        sdloop_append_parsed_observations(m, (SdloopParsedObservation[]) {
                { 1700000000, (char *) "100", (char *) "7", 0 }, { 1700000001, (char *) "-5", (char *) "0", 2 },
        }, 2);
        save(14, "parsed-observations", m);

        m = new_message();
        sdloop_append_node_statuses(m, (SdloopNodeStatus[]) {
                { (char *) "ledger", (char *) "node-0", (char *) "{}", (char *) "ok" },
        }, 1);
        save(15, "node-statuses", m);

        return EXIT_SUCCESS;
}
