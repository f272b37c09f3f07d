// DNS, enforcement (dns.h): which program kinds can enforce a dns condition.
#include "features/dns/dns.h"

namespace membrane::features::dns {

bool enforceableBy(ProgramKind kind) {
  switch (kind) {
    // Both read queries and answers with bpf_skb_load_bytes. tc also answers
    // a refused query itself; cgroup_skb cannot write packets, so it drops
    // the query and the client times out (docs/dns.md).
    case ProgramKind::Tc:
    case ProgramKind::CgroupSkb: return true;
    // The socket layer sees connections the packet programs let through,
    // never packets: it cannot decide this kind.
    case ProgramKind::SkSkb:
    case ProgramKind::SkMsg:
    case ProgramKind::SockAddr: return false;
  }
  return false;
}

}  // namespace membrane::features::dns
