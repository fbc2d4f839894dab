/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "host-services.h"
#include "macro.h"

int host_services_export(SdloopPeer *peer, HostKeystore *keystore) {
        static const SdloopObjectOps keystore_object_ops = {
                .name = "keystore",
        };
        SdloopObject *o;
        int r;

        if (!peer)
                return -EINVAL;

        if (keystore) {
                /* The object goes with the connection; a new connection gets a new one. */
                r = sdloop_object_new_at(peer, NULL, HOST_KEYSTORE_PATH, &keystore_object_ops, keystore, &o);
                if (r < 0)
                        return r;
                r = sdloop_keystore_export(o, &host_keystore_ops, keystore);
                if (r < 0) {
                        sdloop_object_close(o);
                        return r;
                }
        }
        return 0;
}
