/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "host-plugin.h"

/* How long stopping may take beyond the service's own stop timeout, which is this too. */
#define STOP_TIMEOUT_USEC (5 * USEC_PER_SEC)

/* Append the socket's / the service's properties as an a(sv) for StartTransientUnit; @user: for the user
 * manager (only the sandboxing it can apply without privileges). */
int systemd_units_append_socket(sd_bus_message *m, HostPlugin *p, bool user);
int systemd_units_append_service(sd_bus_message *m, HostPlugin *p, bool user);
/* Manager.StartTransientUnit(@socket_unit, "fail", its properties, [(@service_unit, its properties)]). */
int systemd_units_new_start(sd_bus *bus, HostPlugin *p, const char *socket_unit, const char *service_unit,
                            bool user, sd_bus_message **ret);
