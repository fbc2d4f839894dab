/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Contract configurations: their canonical encoding and their digest. */

#include <sodium.h>

#include "ledger-digest.h"
#include "ledger.pb-c.h"
#include "macro.h"
#include "sdloop-codec.h"

static void config_record_freep(Sdloop__Ledger__ConfigRecord **p) {
        if (*p)
                sdloop__ledger__config_record__free_unpacked(*p, NULL);
}

int ledger_config_encode(const char *chain_id, const char *contract_id, const SdloopContractConfig *config,
                         SdloopBytes *ret) {
        Sdloop__Ledger__ConfigRecord record = SDLOOP__LEDGER__CONFIG_RECORD__INIT;
        _cleanup_free_ ProtobufCBinaryData *signers = NULL;
        size_t size;
        uint8_t *buf;

        assert(chain_id);
        assert(contract_id);
        assert(config);
        assert(ret);

        signers = new0(ProtobufCBinaryData, config->n_signers);
        if (!signers)
                return -ENOMEM;
        for (size_t i = 0; i < config->n_signers; i++)
                signers[i] = (ProtobufCBinaryData) { .len = config->signers[i].size, .data = config->signers[i].data };

        /* protobuf-c only reads through these pointers while packing. */
        record.chain_id = (char *) chain_id;
        record.contract_id = (char *) contract_id;
        record.config_count = config->config_count;
        record.n_signers = config->n_signers;
        record.signers = signers;
        record.n_transmitters = strv_length(config->transmitters);
        record.transmitters = config->transmitters;
        record.f = config->f;
        record.onchain_config = (ProtobufCBinaryData) {
                .len = config->onchain_config.size,
                .data = config->onchain_config.data,
        };
        record.offchain_config_version = config->offchain_config_version;
        record.offchain_config = (ProtobufCBinaryData) {
                .len = config->offchain_config.size,
                .data = config->offchain_config.data,
        };

        size = sdloop__ledger__config_record__get_packed_size(&record);
        buf = malloc(size ?: 1);
        if (!buf)
                return -ENOMEM;
        (void) sdloop__ledger__config_record__pack(&record, buf);

        *ret = (SdloopBytes) { .data = buf, .size = size };
        return 0;
}

int ledger_config_decode(const void *data, size_t size, SdloopContractConfig *ret, char **ret_chain_id,
                         char **ret_contract_id) {
        _cleanup_(config_record_freep) Sdloop__Ledger__ConfigRecord *record = NULL;
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig c = {};
        _cleanup_free_ char *chain_id = NULL, *contract_id = NULL;
        int r;

        assert(ret);

        record = sdloop__ledger__config_record__unpack(NULL, size, data);
        if (!record)
                return -EBADMSG;
        if (record->f > UINT8_MAX)
                return -EBADMSG;

        c.config_count = record->config_count;
        c.f = (uint8_t) record->f;
        c.offchain_config_version = record->offchain_config_version;

        c.signers = new0(SdloopBytes, record->n_signers);
        if (!c.signers)
                return -ENOMEM;
        for (size_t i = 0; i < record->n_signers; i++) {
                r = sdloop_bytes_copy(&c.signers[i], record->signers[i].data, record->signers[i].len);
                if (r < 0)
                        return r;
                c.n_signers++;
        }

        c.transmitters = new0(char *, record->n_transmitters + 1);
        if (!c.transmitters)
                return -ENOMEM;
        for (size_t i = 0; i < record->n_transmitters; i++) {
                c.transmitters[i] = strdup(record->transmitters[i]);
                if (!c.transmitters[i])
                        return -ENOMEM;
        }

        r = sdloop_bytes_copy(&c.onchain_config, record->onchain_config.data, record->onchain_config.len);
        if (r < 0)
                return r;
        r = sdloop_bytes_copy(&c.offchain_config, record->offchain_config.data, record->offchain_config.len);
        if (r < 0)
                return r;

        if (ret_chain_id) {
                chain_id = strdup(strempty(record->chain_id));
                if (!chain_id)
                        return -ENOMEM;
        }
        if (ret_contract_id) {
                contract_id = strdup(strempty(record->contract_id));
                if (!contract_id)
                        return -ENOMEM;
        }

        *ret = c;
        c = (SdloopContractConfig) {};
        if (ret_chain_id)
                *ret_chain_id = TAKE_PTR(chain_id);
        if (ret_contract_id)
                *ret_contract_id = TAKE_PTR(contract_id);
        return 0;
}

int ledger_config_digest(const char *chain_id, const char *contract_id, const SdloopContractConfig *config,
                         uint8_t ret[static SDLOOP_DIGEST_SIZE]) {
        _cleanup_(sdloop_bytes_done) SdloopBytes record = {};
        uint8_t hash[crypto_hash_sha256_BYTES];
        int r;

        r = ledger_config_encode(chain_id, contract_id, config, &record);
        if (r < 0)
                return r;

        (void) crypto_hash_sha256(hash, record.data, record.size);
        hash[0] = (uint8_t) (LEDGER_CONFIG_DIGEST_PREFIX >> 8);
        hash[1] = (uint8_t) (LEDGER_CONFIG_DIGEST_PREFIX & 0xff);
        memcpy(ret, hash, SDLOOP_DIGEST_SIZE);
        return 0;
}

static bool bytes_equal(const SdloopBytes *a, const SdloopBytes *b) {
        return a->size == b->size && (a->size == 0 || memcmp(a->data, b->data, a->size) == 0);
}

bool ledger_config_same_content(const SdloopContractConfig *a, const SdloopContractConfig *b) {
        size_t n;

        assert(a);
        assert(b);

        if (a->f != b->f || a->offchain_config_version != b->offchain_config_version ||
            !bytes_equal(&a->onchain_config, &b->onchain_config) ||
            !bytes_equal(&a->offchain_config, &b->offchain_config) || a->n_signers != b->n_signers)
                return false;
        for (size_t i = 0; i < a->n_signers; i++)
                if (!bytes_equal(&a->signers[i], &b->signers[i]))
                        return false;

        n = strv_length(a->transmitters);
        if (n != strv_length(b->transmitters))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a->transmitters[i], b->transmitters[i]))
                        return false;
        return true;
}

int ledger_config_copy(SdloopContractConfig *dst, const SdloopContractConfig *src) {
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig c = {};
        size_t n;
        int r;

        assert(dst);
        assert(src);

        memcpy(c.digest, src->digest, SDLOOP_DIGEST_SIZE);
        c.config_count = src->config_count;
        c.f = src->f;
        c.offchain_config_version = src->offchain_config_version;

        c.signers = new0(SdloopBytes, src->n_signers);
        if (!c.signers)
                return -ENOMEM;
        for (size_t i = 0; i < src->n_signers; i++) {
                r = sdloop_bytes_copy(&c.signers[i], src->signers[i].data, src->signers[i].size);
                if (r < 0)
                        return r;
                c.n_signers++;
        }

        n = strv_length(src->transmitters);
        c.transmitters = new0(char *, n + 1);
        if (!c.transmitters)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                c.transmitters[i] = strdup(src->transmitters[i]);
                if (!c.transmitters[i])
                        return -ENOMEM;
        }

        r = sdloop_bytes_copy(&c.onchain_config, src->onchain_config.data, src->onchain_config.size);
        if (r < 0)
                return r;
        r = sdloop_bytes_copy(&c.offchain_config, src->offchain_config.data, src->offchain_config.size);
        if (r < 0)
                return r;

        *dst = c;
        c = (SdloopContractConfig) {};
        return 0;
}

char *ledger_digest_to_hex(const uint8_t digest[static SDLOOP_DIGEST_SIZE], char buf[static LEDGER_DIGEST_HEX_SIZE]) {
        return sodium_bin2hex(buf, LEDGER_DIGEST_HEX_SIZE, digest, SDLOOP_DIGEST_SIZE);
}
