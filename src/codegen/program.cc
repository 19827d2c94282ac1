#include "codegen/program.h"

namespace nfjit::codegen {

const char* to_string(AttachKind k) {
  switch (k) {
    case AttachKind::Xdp: return "xdp";
    case AttachKind::TcIngress: return "tc-ingress";
    case AttachKind::TcEgress: return "tc-egress";
    case AttachKind::Netfilter: return "netfilter";
  }
  return "?";
}

}  // namespace nfjit::codegen
