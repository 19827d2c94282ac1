// Source MAC match (xt_mac): the hook fetches the address (packet bytes at XDP/TC, the skb's MAC header
// at netfilter), then a 4 + 2 byte compare.
#include <cstring>

#include "codegen/hook.h"
#include "codegen/match.h"

namespace nfjit::codegen {

using namespace insn;

Result<void> emit_mac_match(Gen& g, const ir::MacMatch& m, const ir::Rule& r, Label if_false, Label absent) {
  if (auto res = g.hook.load_mac(g, absent, r); !res) return res;
  uint32_t w0;
  uint16_t w1;
  std::memcpy(&w0, m.addr.data(), 4);
  std::memcpy(&w1, m.addr.data() + 4, 2);
  g.e.emit(ldx(BPF_W, R1, R7, desc::kOffMac));
  g.e.emit(alu32_imm(BPF_OR, R1, 0));  // unlink from the stack slot (packet_desc.h)
  g.e.jmp_imm(BPF_JNE, R1, static_cast<int32_t>(w0), if_false, true);
  g.e.emit(ldx(BPF_H, R1, R7, desc::kOffMac + 4));
  g.e.emit(alu32_imm(BPF_OR, R1, 0));
  g.e.jmp_imm(BPF_JNE, R1, w1, if_false, true);
  return {};
}

}  // namespace nfjit::codegen
