/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers used in more than one place. Not installed. */

#include <sys/stat.h>
#include <time.h>

#include "macro.h"

static inline uint64_t now_monotonic_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* Create the parent directories of @path (not @path itself) with @mode where they are missing. */
static inline int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                return -ENOMEM;
        for (char *s = copy + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        if (mkdir(copy, mode) < 0 && errno != EEXIST)
                                return -errno;
                        *s = '/';
                }
        return 0;
}
