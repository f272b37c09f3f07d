// HTTP, enforcement (http.h): which program kinds can enforce an http
// condition. Requests are byte streams on a socket: only the socket layer
// reads them (server side sk_skb for ingress rules, client side sk_msg for
// egress rules, docs/http.md). The packet kinds let the connection through
// to it (MB_VERDICT_L7) and cannot decide a request themselves.
#include "features/http/http.h"

namespace membrane::features::http {

bool enforceableBy(ProgramKind kind) {
  switch (kind) {
    case ProgramKind::SkSkb:
    case ProgramKind::SkMsg: return true;
    case ProgramKind::Tc:
    case ProgramKind::CgroupSkb:
    case ProgramKind::SockAddr: return false;
  }
  return false;
}

}  // namespace membrane::features::http
