/* The ring buffer every event goes through (mb_events): the packet path's
 * flow events (lib/events.h) and the socket layer's HTTP events
 * (lib/l7_verdict.h), which have no packet to describe.
 */
#ifndef MB_LIB_EVENT_RING_H
#define MB_LIB_EVENT_RING_H

#include "include/platform.h"

MB_SHARED struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, MB_EVENTS_BYTES);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} mb_events MB_MAPS;

#endif /* MB_LIB_EVENT_RING_H */
