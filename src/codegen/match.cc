#include "codegen/match.h"

#include "codegen/hook.h"

namespace nfjit::codegen {

std::optional<bool> static_match(const Gen& g, const ir::Match& m) {
  const auto* im = std::get_if<ir::IfaceMatch>(&m.m);
  if (!im || g.at.kind == AttachKind::Netfilter) return std::nullopt;
  // XDP and TC programs run on one known device: the name comparison is decided now. (A direction the
  // hook cannot see is refused when the match is emitted.)
  bool dir_known = g.at.kind == AttachKind::TcEgress ? im->out : !im->out;
  if (!dir_known) return std::nullopt;
  return iface_name_matches(*im, g.at.ifname) != m.invert;
}

Result<void> emit_match(Gen& g, const ir::Match& m, const ir::Rule& r, Label if_false, Label absent) {
  return std::visit(
      [&](const auto& x) -> Result<void> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ir::IntMatch>) return emit_int_match(g, x, r, if_false, absent);
        else if constexpr (std::is_same_v<T, ir::AddrMatch>) return emit_addr_match(g, x, r, if_false, absent);
        else if constexpr (std::is_same_v<T, ir::AddrRangeMatch>) return emit_addr_range_match(g, x, r, if_false, absent);
        else if constexpr (std::is_same_v<T, ir::IfaceMatch>) return g.hook.iface(g, x, if_false, absent, r);
        else if constexpr (std::is_same_v<T, ir::MacMatch>) return emit_mac_match(g, x, r, if_false, absent);
        else if constexpr (std::is_same_v<T, ir::SetMatch>) return emit_set_match(g, x, r, if_false, absent);
        else return emit_limit_match(g, x, r, if_false);
      },
      m.m);
}

}  // namespace nfjit::codegen
