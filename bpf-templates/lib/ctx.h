/* What lib/ needs before it can touch a packet: a program context
 * (include/ctx/), chosen by the entry file that includes lib/. Including
 * lib/ without one is a mistake this turns into a clear error. */
#ifndef MB_LIB_CTX_H
#define MB_LIB_CTX_H

#ifndef MB_CTX
#error "include a program context (include/ctx/skb.h) before lib/: see entry/"
#endif

#endif /* MB_LIB_CTX_H */
