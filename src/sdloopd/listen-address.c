/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "listen-address.h"
#include "macro.h"

int listen_address_parse(const char *s, ListenAddress *ret) {
        _cleanup_free_ char *host = NULL;
        ListenAddress a = {};
        const char *port, *e;
        unsigned long p;
        char *end;

        if (s[0] == '[') {
                e = strchr(s, ']');
                if (!e || e[1] != ':')
                        return -EINVAL;
                host = strndup(s + 1, (size_t) (e - s - 1));
                port = e + 2;
        } else {
                e = strrchr(s, ':');
                if (!e)
                        return -EINVAL;
                host = strndup(s, (size_t) (e - s));
                port = e + 1;
        }
        if (!host)
                return -ENOMEM;

        errno = 0;
        p = strtoul(port, &end, 10);
        if (!(*port >= '0' && *port <= '9') || *end || errno != 0 || p == 0 || p > 65535)
                return -EINVAL;

        if (s[0] == '[') {
                if (inet_pton(AF_INET6, host, &a.in6.sin6_addr) != 1)
                        return -EINVAL;
                a.in6.sin6_family = AF_INET6;
                a.in6.sin6_port = htons((uint16_t) p);
                a.size = sizeof(a.in6);
        } else {
                if (inet_pton(AF_INET, host, &a.in.sin_addr) != 1)
                        return -EINVAL;
                a.in.sin_family = AF_INET;
                a.in.sin_port = htons((uint16_t) p);
                a.size = sizeof(a.in);
        }
        *ret = a;
        return 0;
}
