/* Per-load configuration.
 *
 * One compiled object serves every endpoint of a class; what the loader
 * sets per load lives here (the endpoint, for loads that serve one).
 * `volatile const` puts it in .rodata, which libbpf exposes as a map the
 * loader fills before load. The kernel then freezes it, so the verifier
 * sees the values as constants and prunes branches on them (e.g. disabled
 * event kinds cost nothing). `volatile` keeps clang from folding the zero
 * default into the code.
 */
#ifndef MB_LIB_CONFIG_H
#define MB_LIB_CONFIG_H

#include "include/platform.h"

MB_SHARED volatile const struct mb_config mb_config MB_SHARED_INIT({0});

/* The endpoint this load serves alone, or 0 for a load the class's
 * endpoints share (packet programs find theirs per packet: lib/endpoint.h).
 * Programs that run only in per-endpoint loads (socket calls, the socket
 * layer's verdicts, the process gate) use it directly. */
static __always_inline mb_u32 mb_endpoint_id(void) { return mb_config.endpoint_id; }

static __always_inline int mb_event_enabled(int kind) {
  return (mb_config.events >> kind) & 1;
}

#endif /* MB_LIB_CONFIG_H */
