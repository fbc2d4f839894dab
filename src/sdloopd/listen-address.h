/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A numeric address and port to listen on: "127.0.0.1:9466" or "[::1]:9466". Nothing is resolved: the
 * configuration check and the bind read it the same way. */

#include <netinet/in.h>
#include <sys/socket.h>

typedef struct ListenAddress {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        };
        socklen_t size;
} ListenAddress;

/* -EINVAL unless @s is an IPv4 literal and port, or an IPv6 literal in brackets and port (1…65535). */
int listen_address_parse(const char *s, ListenAddress *ret);
