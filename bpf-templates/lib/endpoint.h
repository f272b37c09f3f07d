/* Which endpoint a packet program runs for.
 *
 * Every tc and cgroup_skb hook of an endpoint runs the node's dispatcher
 * for that hook (dispatch.c, lib/dispatch.h), which finds the endpoint by
 * what the hook sees and tail-calls the program of the load that judges it.
 * A class's packet programs are loaded once for all of the class's
 * endpoints, so the endpoint cannot be a constant of theirs: the dispatcher
 * hands it over in the skb's control block (skb->cb[MB_CB_ENDPOINT]), which
 * nothing else writes between the two.
 *
 * An object loaded for a single endpoint (mb_config.endpoint_id set: the
 * loader's per-endpoint loads, and the tests' bpf_prog_test_run) never
 * looks: the id is a frozen constant and the read folds away.
 */
#ifndef MB_LIB_ENDPOINT_H
#define MB_LIB_ENDPOINT_H

#include "include/platform.h"
#include "lib/config.h"

/* The packet's endpoint; 0 (never an endpoint's id) when a shared load runs
 * without a dispatcher in front of it. */
static __always_inline mb_u32 mb_endpoint_at_hook(const struct __sk_buff *skb) {
  if (mb_endpoint_id())
    return mb_endpoint_id();
  return skb->cb[MB_CB_ENDPOINT];
}

#endif /* MB_LIB_ENDPOINT_H */
