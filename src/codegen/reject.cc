// REJECT's record (reject.h). The 64-byte head is assembled in the descriptor's header buffer, then one
// variable-size ring record is reserved as a dynptr (bpf_ringbuf_reserve_dynptr: the size is the
// packet's), the head written into it (bpf_dynptr_write) and the packet bytes copied straight from the
// skb dynptr (kfunc bpf_dynptr_copy), so no packet byte passes through the 512-byte stack.
#include <cstddef>

#include "codegen/actions.h"
#include "codegen/hook.h"
#include "codegen/insn.h"
#include "codegen/reject.h"

namespace nfjit::codegen {

using namespace insn;
using namespace desc;

namespace {

constexpr int32_t kRingbufReserveDynptr = 198;
constexpr int32_t kRingbufSubmitDynptr = 199;
constexpr int32_t kRingbufDiscardDynptr = 200;
constexpr int32_t kDynptrWrite = 202;
constexpr int16_t kCtxState = 0;
constexpr int16_t kCtxSkb = 8;
constexpr int16_t kHead = kOffBuf;     // the record head (64 bytes = kBufBytes)
constexpr int16_t kRingPtr = kOffKey;  // the ring record's struct bpf_dynptr (16 bytes)
static_assert(sizeof(RejectRecord) == kBufBytes);

int16_t at(size_t field) { return static_cast<int16_t>(kHead + field); }

// r1 = the bitfield `name` of *skb (r1 = skb on entry).
Result<void> load_skb_bits(Gen& g, const char* name) {
  auto m = g.btf.member("sk_buff", name);
  if (!m) return m.error();
  g.e.emit(ldx(BPF_B, R1, R1, static_cast<int16_t>(m->bit_offset / 8)));
  if (m->bit_offset % 8) g.e.emit(alu32_imm(BPF_RSH, R1, static_cast<int32_t>(m->bit_offset % 8)));
  g.e.emit(alu32_imm(BPF_AND, R1, static_cast<int32_t>((1u << (m->bitfield_size ? m->bitfield_size : 8)) - 1)));
  return {};
}

}  // namespace

Result<void> emit_reject_record(Gen& g, const ir::Rule& r, uint32_t slot) {
  if (g.at.kind != AttachKind::Netfilter)
    return unsupported(g, r, "REJECT is only lowered at netfilter hooks (nfjitd sends the reply); "
                             "at XDP/TC it is out of scope: keep this chain at its netfilter hook");
  auto in = g.btf.member_offset("nf_hook_state", "in");
  auto out = g.btf.member_offset("nf_hook_state", "out");
  auto ifindex = g.btf.member_offset("net_device", "ifindex");
  auto dev = g.btf.member_offset("sk_buff", "dev");
  auto mark = g.btf.member_offset("sk_buff", "mark");
  auto len = g.btf.member_offset("sk_buff", "len");
  auto csum = g.btf.member_offset("sk_buff", "csum");
  if (!in || !out || !ifindex || !dev || !mark || !len || !csum)
    return unsupported(g, r, "kernel BTF lacks the sk_buff / nf_hook_state members REJECT reads");
  const int ring = ensure_log_ring(g);
  auto& e = g.e;

  for (int o = 0; o < static_cast<int>(kBufBytes); o += 8) e.emit(st_imm(BPF_DW, R7, static_cast<int16_t>(kHead + o), 0));
  e.emit(st_imm(BPF_W, R7, at(offsetof(RejectRecord, magic)), static_cast<int32_t>(kRejectRecordMagic)));
  e.emit(st_imm(BPF_W, R7, at(offsetof(RejectRecord, counter_slot)), static_cast<int32_t>(slot)));
  e.emit(st_imm(BPF_B, R7, at(offsetof(RejectRecord, nfproto)), g.pf == 6 ? 10 : 2));
  e.emit(st_imm(BPF_B, R7, at(offsetof(RejectRecord, hook)), static_cast<int32_t>(g.at.hook)));
  e.emit(st_imm(BPF_B, R7, at(offsetof(RejectRecord, reject_type)), static_cast<int32_t>(r.action.reject)));
  // state->in / state->out ifindex (NULL devices leave 0).
  for (auto [member, field] : {std::pair{*in, offsetof(RejectRecord, in_ifindex)},
                               std::pair{*out, offsetof(RejectRecord, out_ifindex)}}) {
    Label none = e.new_label();
    e.emit(ldx(BPF_DW, R1, R6, kCtxState));
    e.emit(ldx(BPF_DW, R1, R1, static_cast<int16_t>(member)));
    e.jmp_imm(BPF_JEQ, R1, 0, none);
    e.emit(ldx(BPF_W, R1, R1, static_cast<int16_t>(*ifindex)));
    e.emit(stx(BPF_W, R7, R1, at(field)));
    e.bind(none);
  }
  {
    Label none = e.new_label();
    e.emit(ldx(BPF_DW, R1, R6, kCtxSkb));
    e.emit(ldx(BPF_DW, R1, R1, static_cast<int16_t>(*dev)));
    e.jmp_imm(BPF_JEQ, R1, 0, none);
    e.emit(ldx(BPF_W, R1, R1, static_cast<int16_t>(*ifindex)));
    e.emit(stx(BPF_W, R7, R1, at(offsetof(RejectRecord, dev_ifindex))));
    e.bind(none);
  }
  for (auto [member, field] : {std::pair{*mark, offsetof(RejectRecord, mark)}, std::pair{*len, offsetof(RejectRecord, skb_len)},
                               std::pair{*csum, offsetof(RejectRecord, csum)}}) {
    e.emit(ldx(BPF_DW, R1, R6, kCtxSkb));
    e.emit(ldx(BPF_W, R1, R1, static_cast<int16_t>(member)));
    e.emit(stx(BPF_W, R7, R1, at(field)));
  }
  for (auto [name, field] : {std::pair{"pkt_type", offsetof(RejectRecord, pkt_type)},
                             std::pair{"ip_summed", offsetof(RejectRecord, ip_summed)},
                             std::pair{"csum_valid", offsetof(RejectRecord, csum_valid)}}) {
    e.emit(ldx(BPF_DW, R1, R6, kCtxSkb));
    if (auto ok = load_skb_bits(g, name); !ok) return unsupported(g, r, ok.error().message);
    e.emit(stx(BPF_B, R7, R1, at(field)));
  }

  e.emit(call_helper(kKtimeGetNs));
  e.emit(stx(BPF_DW, R7, R0, at(offsetof(RejectRecord, ktime_ns))));

  // How much to copy: the whole packet when the kernel would checksum all of it (nf_ip_checksum /
  // nf_ip6_checksum: CHECKSUM_NONE anywhere, CHECKSUM_COMPLETE at PRE_ROUTING / LOCAL_IN, where its
  // skb->csum may disagree and the kernel then sums the bytes), else what a reply can use.
  {
    const bool complete_checked = g.at.hook == ir::Hook::Prerouting || g.at.hook == ir::Hook::Input;
    Label whole = e.new_label(), clamp = e.new_label();
    e.emit(ldx(BPF_W, R9, R7, at(offsetof(RejectRecord, skb_len))));
    e.emit(ldx(BPF_B, R1, R7, at(offsetof(RejectRecord, ip_summed))));
    e.jmp_imm(BPF_JEQ, R1, 0, whole);
    if (complete_checked) e.jmp_imm(BPF_JEQ, R1, 2, whole);
    e.jmp_imm(BPF_JLE, R9, kRejectQuoteBytes, clamp);
    e.emit(mov64_imm(R9, kRejectQuoteBytes));
    e.bind(whole);
    e.jmp_imm(BPF_JLE, R9, kRejectMaxCopy, clamp);
    e.emit(mov64_imm(R9, kRejectMaxCopy));
    e.bind(clamp);
    e.emit(stx(BPF_W, R7, R9, at(offsetof(RejectRecord, data_len))));
  }

  // bpf_ringbuf_reserve_dynptr(ring, 64 + data_len, 0, &rp); the dynptr must be submitted or discarded
  // on every path, a failed reservation included. A full ring loses the reply (the packet is dropped).
  Label discard = e.new_label(), done = e.new_label();
  e.emit(ld_map(R1, static_cast<uint32_t>(ring)));
  e.emit(mov64_reg(R2, R9));
  e.emit(alu64_imm(BPF_ADD, R2, kBufBytes));
  e.emit(mov64_imm(R3, 0));
  e.emit(mov64_reg(R4, R7));
  e.emit(alu64_imm(BPF_ADD, R4, kRingPtr));
  e.emit(call_helper(kRingbufReserveDynptr));
  e.jmp_imm(BPF_JNE, R0, 0, discard);
  // bpf_dynptr_write(&rp, 0, head, 64, 0)
  e.emit(mov64_reg(R1, R7));
  e.emit(alu64_imm(BPF_ADD, R1, kRingPtr));
  e.emit(mov64_imm(R2, 0));
  e.emit(mov64_reg(R3, R7));
  e.emit(alu64_imm(BPF_ADD, R3, kHead));
  e.emit(mov64_imm(R4, kBufBytes));
  e.emit(mov64_imm(R5, 0));
  e.emit(call_helper(kDynptrWrite));
  e.jmp_imm(BPF_JNE, R0, 0, discard);
  // bpf_dynptr_copy(&rp, 64, &skb_dynptr, 0, data_len)
  e.emit(mov64_reg(R1, R7));
  e.emit(alu64_imm(BPF_ADD, R1, kRingPtr));
  e.emit(mov64_imm(R2, kBufBytes));
  e.emit(mov64_reg(R3, R7));
  e.emit(alu64_imm(BPF_ADD, R3, kOffDynptr));
  e.emit(mov64_imm(R4, 0));
  e.emit(mov64_reg(R5, R9));
  if (auto ok = g.call_kfunc("bpf_dynptr_copy"); !ok) return unsupported(g, r, ok.error().message);
  e.jmp_imm(BPF_JNE, R0, 0, discard);
  e.emit(mov64_reg(R1, R7));
  e.emit(alu64_imm(BPF_ADD, R1, kRingPtr));
  e.emit(mov64_imm(R2, 0));
  e.emit(call_helper(kRingbufSubmitDynptr));
  e.ja(done);
  e.bind(discard);
  e.emit(mov64_reg(R1, R7));
  e.emit(alu64_imm(BPF_ADD, R1, kRingPtr));
  e.emit(mov64_imm(R2, 0));
  e.emit(call_helper(kRingbufDiscardDynptr));
  e.bind(done);
  return {};
}

}  // namespace nfjit::codegen
