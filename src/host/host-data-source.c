/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A host DataSource around a callback: whoever creates it (the feed driver) decides where values come
 * from; the object only serves them. The library checks every value before it goes out. */

#include "host-services.h"
#include "macro.h"

typedef struct HostDataSource {
        host_observe_fn observe;
        void *userdata;
        void (*destroy)(void *userdata);
} HostDataSource;

static void data_source_close(void *userdata) {
        HostDataSource *d = userdata;

        if (d->destroy)
                d->destroy(d->userdata);
        free(d);
}

static int data_source_observe(void *userdata, const SdloopReportTimestamp *ts, char **ret_value,
                               sd_bus_error *error) {
        HostDataSource *d = userdata;

        return d->observe(d->userdata, ts, ret_value, error);
}

static const SdloopDataSourceOps data_source_ops = {
        .observe = data_source_observe,
};

int host_data_source_new(SdloopPeer *peer, SdloopObject *parent, host_observe_fn observe, void *userdata,
                         void (*destroy)(void *userdata), SdloopObject **ret) {
        static const SdloopObjectOps ops = {
                .name = "data_source",
                .close = data_source_close,
        };
        HostDataSource *d;
        SdloopObject *o;
        int r;

        if (!peer || !observe)
                return -EINVAL;

        d = new0(HostDataSource, 1);
        if (!d)
                return -ENOMEM;
        *d = (HostDataSource) {
                .observe = observe,
                .userdata = userdata,
                .destroy = destroy,
        };

        r = sdloop_object_new(peer, parent, "host/data_source", &ops, d, &o);
        if (r < 0) {
                /* Not ours to destroy yet: the caller keeps @userdata on failure. */
                free(d);
                return r;
        }
        r = sdloop_data_source_export(o, &data_source_ops, d);
        if (r < 0) {
                d->destroy = NULL;
                sdloop_object_close(o);
                return r;
        }
        if (ret)
                *ret = o;
        return 0;
}
