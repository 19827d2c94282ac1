#include "codegen/gen.h"

namespace nfjit::codegen {

Result<void> Gen::call_kfunc(const std::string& name) {
  auto id = btf.func_id(name);
  if (!id) return id.error();
  bool known = false;
  for (const auto& k : prog.kfuncs) known |= k.btf_id == *id;
  if (!known) prog.kfuncs.push_back({*id, name});
  e.emit(insn::call_kfunc(*id));
  return {};
}

int Gen::add_map(MapSpec spec) {
  prog.maps.push_back(std::move(spec));
  return static_cast<int>(prog.maps.size() - 1);
}

std::string where(const AttachPoint& at) {
  switch (at.kind) {
    case AttachKind::Netfilter:
      return std::string("netfilter ") + (at.pf == 10 ? "ipv6 " : "ipv4 ") + ir::to_string(at.hook) + " hook";
    case AttachKind::Xdp: return "XDP on " + at.ifname;
    case AttachKind::TcIngress: return "TC ingress on " + at.ifname;
    case AttachKind::TcEgress: return "TC egress on " + at.ifname;
  }
  return "?";
}

Error unsupported(const Gen& g, const ir::Rule& r, const std::string& why) {
  return make_error(EOPNOTSUPP, "cannot lower at " + where(g.at) + ": rule '" + r.origin + "': " + why);
}

}  // namespace nfjit::codegen
