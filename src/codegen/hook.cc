#include "codegen/hook.h"

namespace nfjit::codegen {

bool iface_name_matches(const ir::IfaceMatch& m, const std::string& ifname) {
  if (m.wildcard) return ifname.compare(0, m.name.size(), m.name) == 0;
  return ifname == m.name;
}

}  // namespace nfjit::codegen
