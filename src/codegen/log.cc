// LOG: reserve a LogRecord in the ring buffer, fill it, submit. The header bytes are copied straight
// into the reserved record by the hook's load-bytes primitive. Where the hook cannot read a field
// (mark at XDP, names of devices it does not see) the record holds zero / an empty string.
#include <cstddef>
#include <cstring>

#include "codegen/actions.h"
#include "codegen/hook.h"
#include "codegen/log_record.h"
#include "codegen/match.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

namespace {

constexpr uint32_t kRingBytes = 256 * 1024;

int16_t off(size_t o) { return static_cast<int16_t>(o); }

// Stores meta field `f` into record field at `at` (r8 = record) or leaves 0 if unavailable here.
void store_meta(Gen& g, ir::Field f, size_t at, const ir::Rule& r) {
  Label absent = g.e.new_label();
  if (g.hook.load_meta(g, f, absent, r)) g.e.emit(stx(BPF_W, R8, R1, off(at)));
  g.e.bind(absent);
}

void store_name_const(Gen& g, size_t at, const std::string& name) {
  char buf[16] = {};
  std::memcpy(buf, name.data(), std::min<size_t>(name.size(), 15));
  for (int w = 0; w < 4; ++w) {
    int32_t v;
    std::memcpy(&v, buf + 4 * w, 4);
    g.e.emit(st_imm(BPF_W, R8, off(at + 4 * w), v));
  }
}

}  // namespace

int ensure_log_ring(Gen& g) {
  if (g.log_map < 0) {
    MapSpec spec;
    spec.name = "nfjit_log";
    spec.type = BPF_MAP_TYPE_RINGBUF;
    spec.key_size = 0;
    spec.value_size = 0;
    spec.max_entries = kRingBytes;
    spec.role = MapSpec::Role::LogRing;
    g.log_map = g.prog.log_map = g.add_map(std::move(spec));
  }
  return g.log_map;
}

Result<void> emit_log(Gen& g, const ir::LogAction& a, uint32_t slot, const ir::Rule& r, ir::Hook hook) {
  ensure_log_ring(g);
  const uint32_t log_id = static_cast<uint32_t>(g.prog.logs.size());
  g.prog.logs.push_back(a);
  auto& e = g.e;
  Label done = e.new_label();
  e.emit(ld_map(R1, static_cast<uint32_t>(g.log_map)));
  e.emit(mov64_imm(R2, sizeof(LogRecord)));
  e.emit(mov64_imm(R3, 0));
  e.emit(call_helper(kRingbufReserve));
  e.jmp_imm(BPF_JEQ, R0, 0, done);  // ring full: the record is lost, like a rate-limited printk
  e.emit(mov64_reg(R8, R0));
  for (size_t o = 0; o < offsetof(LogRecord, hdr); o += 8) e.emit(st_imm(BPF_DW, R8, off(o), 0));
  e.emit(st_imm(BPF_W, R8, off(offsetof(LogRecord, log_id)), static_cast<int32_t>(log_id)));
  e.emit(st_imm(BPF_W, R8, off(offsetof(LogRecord, counter_slot)), static_cast<int32_t>(slot)));
  e.emit(st_imm(BPF_B, R8, off(offsetof(LogRecord, hook)), static_cast<int32_t>(hook)));

  // Interfaces.
  store_meta(g, ir::Field::IifIndex, offsetof(LogRecord, in_ifindex), r);
  store_meta(g, ir::Field::OifIndex, offsetof(LogRecord, out_ifindex), r);
  switch (g.at.kind) {
    case AttachKind::Xdp:
    case AttachKind::TcIngress:
      store_name_const(g, offsetof(LogRecord, in_name), g.at.ifname);
      if (g.at.ifindex) e.emit(st_imm(BPF_W, R8, off(offsetof(LogRecord, in_ifindex)), static_cast<int32_t>(g.at.ifindex)));
      break;
    case AttachKind::TcEgress:
      store_name_const(g, offsetof(LogRecord, out_name), g.at.ifname);
      if (g.at.ifindex) e.emit(st_imm(BPF_W, R8, off(offsetof(LogRecord, out_ifindex)), static_cast<int32_t>(g.at.ifindex)));
      break;
    case AttachKind::Netfilter: {
      auto in = g.btf.member_offset("nf_hook_state", "in");
      auto out = g.btf.member_offset("nf_hook_state", "out");
      auto name = g.btf.member_offset("net_device", "name");
      if (!in || !out || !name) return unsupported(g, r, "kernel BTF lacks nf_hook_state/net_device members");
      for (auto [dev, at] : {std::pair{*in, offsetof(LogRecord, in_name)}, std::pair{*out, offsetof(LogRecord, out_name)}}) {
        Label none = e.new_label();
        e.emit(ldx(BPF_DW, R1, R6, 0));  // ctx->state
        e.emit(ldx(BPF_DW, R1, R1, off(dev)));
        e.jmp_imm(BPF_JEQ, R1, 0, none);
        for (int w = 0; w < 2; ++w) {
          e.emit(ldx(BPF_DW, R2, R1, off(*name + 8 * w)));
          e.emit(stx(BPF_DW, R8, R2, off(at + 8 * w)));
        }
        e.bind(none);
      }
      break;
    }
  }
  if (g.at.kind != AttachKind::Xdp) store_meta(g, ir::Field::Mark, offsetof(LogRecord, mark), r);

  // Lengths and family.
  e.emit(ldx(BPF_W, R1, R7, kOffL3Len));
  e.emit(stx(BPF_W, R8, R1, off(offsetof(LogRecord, pkt_len))));
  {
    Label v6 = e.new_label(), fam = e.new_label();
    e.emit(ldx(BPF_W, R1, R7, kOffNfProto));
    e.jmp_imm(BPF_JEQ, R1, 6, v6);
    e.jmp_imm(BPF_JNE, R1, 4, fam);
    e.emit(st_imm(BPF_B, R8, off(offsetof(LogRecord, nfproto)), 2));
    e.ja(fam);
    e.bind(v6);
    e.emit(st_imm(BPF_B, R8, off(offsetof(LogRecord, nfproto)), 10));
    e.bind(fam);
  }
  // Link-layer header, where the packet has one.
  if (g.hook.link_layer()) {
    Label no_mac = e.new_label();
    e.emit(mov64_imm(R9, 0));
    e.emit(mov64_reg(R3, R8));
    e.emit(alu64_imm(BPF_ADD, R3, off(offsetof(LogRecord, mac))));
    e.emit(mov64_reg(R1, R3));
    e.emit(mov64_imm(R5, kLogMacBytes));
    g.hook.load_bytes_to(g, R9, R1, R5);
    e.jmp_imm(BPF_JNE, R0, 0, no_mac);
    e.emit(st_imm(BPF_B, R8, off(offsetof(LogRecord, mac_len)), kLogMacBytes));
    e.bind(no_mac);
  } else if (auto ok = g.hook.log_mac_header(g); !ok) {
    return ok;
  }
  // Network header on: min(L3 length, kLogHeaderBytes) bytes.
  {
    Label no_hdr = e.new_label(), clamp_ok = e.new_label();
    e.emit(ldx(BPF_W, R9, R7, kOffL3Len));
    e.jmp_imm(BPF_JLE, R9, kLogHeaderBytes, clamp_ok);
    e.emit(mov64_imm(R9, kLogHeaderBytes));
    e.bind(clamp_ok);
    e.jmp_imm(BPF_JEQ, R9, 0, no_hdr);
    e.emit(mov64_reg(R1, R8));
    e.emit(alu64_imm(BPF_ADD, R1, off(offsetof(LogRecord, hdr))));
    e.emit(ldx(BPF_W, R5, R7, kOffL3Off));
    g.hook.load_bytes_to(g, R5, R1, R9);
    e.jmp_imm(BPF_JNE, R0, 0, no_hdr);
    e.emit(stx(BPF_W, R8, R9, off(offsetof(LogRecord, hdr_len))));
    e.bind(no_hdr);
  }
  e.emit(mov64_reg(R1, R8));
  e.emit(mov64_imm(R2, 0));
  e.emit(call_helper(kRingbufSubmit));
  e.bind(done);
  return {};
}

}  // namespace nfjit::codegen
