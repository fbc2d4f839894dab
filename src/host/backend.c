/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "host-backend.h"
#include "macro.h"

const HostBackend *host_backend_from_string(const char *s) {
        if (streq_ptr(s, "exec"))
                return &host_backend_exec;
#ifdef HAVE_SYSTEMD_BACKEND
        if (streq_ptr(s, "system"))
                return &host_backend_system;
        if (streq_ptr(s, "user"))
                return &host_backend_user;
#endif
        return NULL;
}
