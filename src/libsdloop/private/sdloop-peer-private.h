/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Not installed, not part of the API: what the supervision library still needs while its recovery runs
 * as top-level work between loop iterations. */

/* Top-level work (reconnecting a crashed plugin, say) that must go on while a synchronous call waits at
 * top level: sdloop_peer_call() and sdloop_peer_wait_for() run @hook after every loop iteration they
 * drive. The hook runs outside any event dispatch. */
void sdloop_set_pump_hook(void (*hook)(void *userdata), void *userdata);
