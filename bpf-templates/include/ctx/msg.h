/* The program context of the sk_msg kind (the client side of the socket
 * layer, entry/sk_msg.c): what a socket sends, as one sendmsg() hands it
 * to the verdict. The same names as include/ctx/skb.h, so lib/l7_frame.h
 * and lib/l7_verdict.h build for it unchanged; the operations it lacks
 * (checksums, rewriting a packet's tail) are not defined, and code that
 * would need them does not build here.
 *
 * A message's bytes sit in a scatterlist of pages. Reading them is two
 * steps: bpf_msg_pull_data makes the range one linear run at msg->data,
 * and bpf_probe_read_kernel copies it out. (The message has no load-bytes
 * helper, and direct access would need every offset proven against
 * data_end.) The message is a translation unit of its own (msg.c).
 */
#ifndef MB_CTX_MSG_H
#define MB_CTX_MSG_H

#include "include/platform.h"

#if defined(MB_CTX) && MB_CTX != MB_CTX_KIND_MSG
#error "one program context per translation unit"
#endif
#define MB_CTX_KIND_MSG 2
#define MB_CTX MB_CTX_KIND_MSG
/* A global function taking the context needs a name of its own per
 * context: both units are linked into one object. */
#define MB_CTX_FN(name) name##_msg

typedef struct sk_msg_md mb_ctx_t;

/* Copies `len` bytes at `off` of the message into `to`; negative when the
 * message is shorter. Makes the range linear first (which may move the
 * message's bytes, never change them). */
static __always_inline long mb_ctx_load_bytes(const mb_ctx_t *ctx, mb_u32 off, void *to, mb_u32 len) {
  mb_ctx_t *msg = (mb_ctx_t *)ctx;
  if (len == 0 || off + len < off || off + len > msg->size)
    return -1;
  if (bpf_msg_pull_data(msg, off, off + len, 0) < 0)
    return -1;
  return bpf_probe_read_kernel(to, len, (const void *)(long)msg->data);
}

/* Bytes in the message. */
static __always_inline mb_u32 mb_ctx_len(const mb_ctx_t *ctx) { return ctx->size; }

#endif /* MB_CTX_MSG_H */
