/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "macro.h"
#include "median-config-watch.h"
#include "median-internal.h"

struct MedianConfigWatch {
        char *owner;
        char *provider;
        sd_bus_slot *slot;
        MedianConfigChanges changes;
};

/* The reporting plugins keep their configuration: libocr creates new ones once it has read the new one.
 * Here it is recorded and told. */
static int on_config_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        MedianConfigWatch *w = userdata;
        char hex[SDLOOP_DIGEST_SIZE * 2 + 1];
        uint64_t block;
        const void *digest;
        size_t size = 0;
        int r;

        /* The library's watch lets only a well-formed (t, 32-byte ay) through. */
        r = sd_bus_message_read_basic(m, 't', &block);
        if (r > 0)
                r = sd_bus_message_read_array(m, 'y', &digest, &size);
        if (r <= 0 || size != SDLOOP_DIGEST_SIZE)
                return 0;

        w->changes.n++;
        w->changes.changed_in_block = block;
        memcpy(w->changes.digest, digest, SDLOOP_DIGEST_SIZE);

        for (size_t i = 0; i < SDLOOP_DIGEST_SIZE; i++)
                sprintf(hex + 2 * i, "%02x", w->changes.digest[i]);
        log_info("%s: provider %s has a new configuration %s from block %" PRIu64 " (change %" PRIu64
                 " seen by this factory).", w->owner, w->provider, hex, block, w->changes.n);
        return 0;
}

int median_config_watch_new(SdloopPeer *peer, const char *provider, const char *owner, MedianConfigWatch **ret) {
        MedianConfigWatch *w;
        int r;

        if (!peer || !provider || !owner || !ret)
                return -EINVAL;

        w = new0(MedianConfigWatch, 1);
        if (!w)
                return -ENOMEM;
        w->owner = strdup(owner);
        w->provider = strdup(provider);
        if (!w->owner || !w->provider) {
                median_config_watch_free(w);
                return -ENOMEM;
        }

        r = sdloop_contract_config_tracker_watch(peer, provider, &w->slot, on_config_changed, w);
        if (r < 0) {
                median_config_watch_free(w);
                return r;
        }

        *ret = w;
        return 0;
}

MedianConfigWatch *median_config_watch_free(MedianConfigWatch *w) {
        if (!w)
                return NULL;
        sd_bus_slot_unref(w->slot);
        free(w->owner);
        free(w->provider);
        return mfree(w);
}

void median_config_watch_get(const MedianConfigWatch *w, MedianConfigChanges *ret) {
        *ret = w ? w->changes : (MedianConfigChanges) {};
}

int median_factory_get_config_changes(SdloopObject *factory, MedianConfigChanges *ret) {
        static const char prefix[] = SDLOOP_ROOT_PATH "/factory/";
        MedianFactory *f;

        if (!factory || !ret || strncmp(sdloop_object_get_path(factory), prefix, strlen(prefix)) != 0)
                return -EINVAL;

        f = sdloop_object_get_userdata(factory);
        median_config_watch_get(f->config_watch, ret);
        return 0;
}
