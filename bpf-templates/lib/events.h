/* Verdict events for flow logs: one record per deny, per allowed new flow
 * and per audit finding, each kind enabled by bit (1 << kind) of
 * mb_config.events. Packets of established flows never produce events.
 * A full ring buffer drops the event, never the packet.
 */
#ifndef MB_LIB_EVENTS_H
#define MB_LIB_EVENTS_H

#include "include/platform.h"
#include "lib/config.h"
#include "lib/event_ring.h"
#include "lib/parse.h"

static __always_inline void mb_emit(int kind, int dir, mb_u32 rule_id, const struct mb_pkt *pkt,
                                    mb_u64 now) {
  /* A frozen .rodata value: the verifier prunes disabled kinds entirely. */
  if (!mb_event_enabled(kind))
    return;

  struct mb_event *ev = bpf_ringbuf_reserve(&mb_events, sizeof(*ev), 0);
  if (!ev)
    return;

  ev->timestamp_ns = now;
  ev->endpoint = pkt->endpoint;
  ev->rule_id = rule_id;
  ev->kind = kind;
  ev->direction = dir;
  ev->proto = pkt->t.proto;
  ev->family = pkt->t.family;
  /* Host order. ICMP: the echo id (or 0) and the type, as policy saw it. */
  ev->sport = bpf_ntohs(pkt->t.sport);
  ev->dport = mb_pkt_is_icmp(pkt) ? pkt->port : bpf_ntohs(pkt->t.dport);
  __builtin_memcpy(ev->saddr, pkt->t.saddr, 16);
  __builtin_memcpy(ev->daddr, pkt->t.daddr, 16);
  bpf_ringbuf_submit(ev, 0);
}

#endif /* MB_LIB_EVENTS_H */
