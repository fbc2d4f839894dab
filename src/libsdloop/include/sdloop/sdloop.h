/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libsdloop: LOOP plugins as systemd units speaking D-Bus. */

#include "sdloop-call.h"
#include "sdloop-client.h"
#include "sdloop-codec.h"
#include "sdloop-data-source.h"
#include "sdloop-env.h"
#include "sdloop-error-log.h"
#include "sdloop-error.h"
#include "sdloop-int.h"
#include "sdloop-keystore.h"
#include "sdloop-limits.h"
#include "sdloop-log.h"
#include "sdloop-median-config.h"
#include "sdloop-median.h"
#include "sdloop-metrics.h"
#include "sdloop-object.h"
#include "sdloop-peer.h"
#include "sdloop-plugin-relayer.h"
#include "sdloop-plugin.h"
#include "sdloop-provider.h"
#include "sdloop-proxy.h"
#include "sdloop-relayer.h"
#include "sdloop-signing.h"
#include "sdloop-trace.h"
#include "sdloop-types.h"
