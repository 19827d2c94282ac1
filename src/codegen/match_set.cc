// Set membership: build the key (layout in sets.h) in the descriptor's key area, then one map lookup.
#include "codegen/match.h"
#include "codegen/sets.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

namespace {

Result<int> set_map(Gen& g, const ir::SetMatch& m, const ir::Rule& r) {
  if (auto it = g.set_maps.find(m.set); it != g.set_maps.end()) return it->second;
  const ir::Set* s = g.table.find_set(m.set);
  if (!s) return make_error(ENOENT, "rule '" + r.origin + "': no set '" + m.set + "' in table " + g.table.name);
  auto spec = set_map_spec(*s);
  if (!spec) return unsupported(g, r, spec.error().message);
  if (set_key_bytes(*s) + 4 > kKeyBytes) return unsupported(g, r, "set '" + m.set + "' has a key longer than 68 bytes");
  int idx = g.add_map(std::move(*spec));
  g.set_maps[m.set] = idx;
  return idx;
}

}  // namespace

Result<void> emit_set_match(Gen& g, const ir::SetMatch& m, const ir::Rule& r, Label if_false, Label absent) {
  auto idx = set_map(g, m, r);
  if (!idx) return idx.error();
  const ir::Set& s = *g.table.find_set(m.set);
  auto& e = g.e;
  int16_t at = kOffKey;
  if (s.interval) {
    e.emit(st_imm(BPF_W, R7, at, static_cast<int32_t>(set_key_bytes(s) * 8)));  // full-length lookup
    at += 4;
  }
  for (const auto& f : s.key) {
    uint32_t w = set_field_width(f);
    if (f.field == ir::Field::Saddr || f.field == ir::Field::Daddr) {
      e.emit(ldx(BPF_W, R1, R7, kOffNfProto));
      e.jmp_imm(BPF_JNE, R1, w == 4 ? 4 : 6, absent);
      int16_t src = f.field == ir::Field::Saddr ? kOffSaddr : kOffDaddr;
      for (uint32_t i = 0; i < w; i += 4) {
        e.emit(ldx(BPF_W, R1, R7, static_cast<int16_t>(src + i)));
        e.emit(stx(BPF_W, R7, R1, static_cast<int16_t>(at + i)));
      }
    } else if (w == 16) {
      return unsupported(g, r, "sets keyed by interface name are not lowered yet");
    } else {
      if (auto res = load_field(g, f.field, absent, r); !res) return res;
      if (w == 2) {
        e.emit(to_be(R1, 16));  // ports: network order, then two bytes of padding
        e.emit(alu32_imm(BPF_AND, R1, 0xffff));
      }
      e.emit(stx(BPF_W, R7, R1, at));  // 1-byte fields land in the first byte, zero-padded
    }
    at = static_cast<int16_t>(at + ((w + 3) & ~3u));
  }
  e.emit(ld_map(R1, static_cast<uint32_t>(*idx)));
  e.emit(mov64_reg(R2, R7));
  e.emit(alu64_imm(BPF_ADD, R2, kOffKey));
  e.emit(call_helper(kMapLookupElem));
  e.jmp_imm(BPF_JEQ, R0, 0, if_false);
  return {};
}

}  // namespace nfjit::codegen
