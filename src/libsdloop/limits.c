/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>

#include "macro.h"
#include "sdloop-limits.h"
#include "sdloop-log.h"

static uint64_t limit_from_env(const char *name, uint64_t def, uint64_t min, uint64_t max) {
        const char *e = getenv(name);
        unsigned long long v;
        char *end;

        if (!e)
                return def;
        errno = 0;
        v = strtoull(e, &end, 10);
        if (errno != 0 || end == e || *end != 0 || e[0] == '-' || v < min || v > max) {
                log_warning("Ignoring $%s=%s: expected a number from %" PRIu64 " to %" PRIu64 ", using %" PRIu64 ".",
                            name, e, min, max, def);
                return def;
        }
        return v;
}

unsigned sdloop_connections_max(void) {
        static unsigned cached;

        if (cached == 0)
                cached = (unsigned) limit_from_env("SDLOOP_CONNECTIONS_MAX", SDLOOP_CONNECTIONS_MAX_DEFAULT, 1, 65536);
        return cached;
}

uint64_t sdloop_message_size_max(void) {
        static uint64_t cached;

        if (cached == 0)
                cached = limit_from_env("SDLOOP_MESSAGE_SIZE_MAX", SDLOOP_MESSAGE_SIZE_MAX, 64U * 1024U,
                                        128U * 1024U * 1024U - 1);
        return cached;
}
