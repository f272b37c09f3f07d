/* The skeleton for classes without process rules: endpoint.c without the
 * socket-call programs (entry/sock_addr.c, entry/process_gate.c), so the
 * object has no CO-RE relocation and the node loads it without the kernel's
 * BTF. Linked with msg.c like endpoint.c (codegen/skeleton_builder.cpp).
 */
#define MB_SKELETON_WITHOUT_PROCESS 1
#include "endpoint.c"
