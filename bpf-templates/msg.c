/* The client side's translation unit: the sk_msg programs (entry/sk_msg.c),
 * whose context is a socket message, not an skb. Compiled once, when
 * membranec is built, like endpoint.c, and linked with it and each class's
 * decision into the class object. The maps and .rodata it shares with the
 * skeleton are declared here, defined there (MB_SHARED, include/platform.h).
 */
#define MB_SHARED_EXTERN
#include "entry/sk_msg.c"
