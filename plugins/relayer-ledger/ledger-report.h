/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The median report (MedianReport in ledger.proto). */

#include <systemd/sd-bus.h>

#include "sdloop-types.h"

/* Sort the observations by value and encode them with the medians (element n/2) of value, juels per fee
 * coin and timestamp. At least one observation. */
int ledger_report_build(const SdloopParsedObservation *obs, size_t n, SdloopBytes *ret, sd_bus_error *error);

/* Decode a report and return its median. A report that does not decode, or whose median is not the middle
 * of its sorted observations, is InvalidArgument naming "report". */
int ledger_report_median(const void *data, size_t size, char **ret_median, sd_bus_error *error);

/* An upper bound of the encoded size of a report of @n observations. */
int ledger_report_max_length(int64_t n, int64_t *ret, sd_bus_error *error);
