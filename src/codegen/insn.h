// Builders for single eBPF instructions, as constexpr functions (the kernel's include/linux/filter.h
// macros, typed). Jumps to labels, calls to subprograms and map references go through the Emitter,
// which owns offsets; these builders only make fully-specified instructions.
#pragma once

#include <linux/bpf.h>

#include <array>
#include <cstdint>

namespace nfjit::codegen::insn {

// Register names used throughout codegen (see docs/codegen.md for who holds what).
enum Reg : uint8_t { R0 = 0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 };

constexpr bpf_insn make(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

// ---- ALU ----
constexpr bpf_insn alu64_imm(uint8_t op, uint8_t dst, int32_t imm) { return make(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm); }
constexpr bpf_insn alu64_reg(uint8_t op, uint8_t dst, uint8_t src) { return make(BPF_ALU64 | op | BPF_X, dst, src, 0, 0); }
constexpr bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) { return make(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
constexpr bpf_insn alu32_reg(uint8_t op, uint8_t dst, uint8_t src) { return make(BPF_ALU | op | BPF_X, dst, src, 0, 0); }
constexpr bpf_insn mov64_reg(uint8_t dst, uint8_t src) { return alu64_reg(BPF_MOV, dst, src); }
constexpr bpf_insn mov64_imm(uint8_t dst, int32_t imm) { return alu64_imm(BPF_MOV, dst, imm); }
constexpr bpf_insn mov32_imm(uint8_t dst, int32_t imm) { return alu32_imm(BPF_MOV, dst, imm); }
constexpr bpf_insn mov32_reg(uint8_t dst, uint8_t src) { return alu32_reg(BPF_MOV, dst, src); }
// Byte swap to big endian (on this little-endian machine: network order <-> host order). bits: 16/32/64.
constexpr bpf_insn to_be(uint8_t dst, int32_t bits) { return make(BPF_ALU | BPF_END | BPF_TO_BE, dst, 0, 0, bits); }

// ---- memory ----
constexpr bpf_insn ldx(uint8_t size, uint8_t dst, uint8_t src, int16_t off) { return make(BPF_LDX | size | BPF_MEM, dst, src, off, 0); }
constexpr bpf_insn stx(uint8_t size, uint8_t dst, uint8_t src, int16_t off) { return make(BPF_STX | size | BPF_MEM, dst, src, off, 0); }
constexpr bpf_insn st_imm(uint8_t size, uint8_t dst, int16_t off, int32_t imm) { return make(BPF_ST | size | BPF_MEM, dst, 0, off, imm); }
// *(size *)(dst + off) += src, atomically.
constexpr bpf_insn atomic_add(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
  return make(BPF_STX | size | BPF_ATOMIC, dst, src, off, BPF_ADD);
}
// r0 = cmpxchg(dst + off, r0, src): stores src if *(dst+off) == r0; r0 gets the old value either way.
constexpr bpf_insn atomic_cmpxchg(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
  return make(BPF_STX | size | BPF_ATOMIC, dst, src, off, BPF_CMPXCHG);
}

// src = xchg(dst + off, src): stores src and puts the old value in src.
constexpr bpf_insn atomic_xchg(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
  return make(BPF_STX | size | BPF_ATOMIC, dst, src, off, BPF_XCHG);
}

// 64-bit immediate load (two instruction slots).
constexpr std::array<bpf_insn, 2> ld_imm64(uint8_t dst, uint64_t v, uint8_t src = 0) {
  return {make(BPF_LD | BPF_DW | BPF_IMM, dst, src, 0, static_cast<int32_t>(static_cast<uint32_t>(v))),
          make(0, 0, 0, 0, static_cast<int32_t>(static_cast<uint32_t>(v >> 32)))};
}
// Map reference: imm = index into Program::maps, patched to an fd by the loader.
constexpr std::array<bpf_insn, 2> ld_map(uint8_t dst, uint32_t map_index) {
  return ld_imm64(dst, map_index, BPF_PSEUDO_MAP_FD);
}

// ---- control ----
constexpr bpf_insn call_helper(int32_t id) { return make(BPF_JMP | BPF_CALL, 0, 0, 0, id); }
constexpr bpf_insn call_kfunc(uint32_t btf_id) {
  return make(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_KFUNC_CALL, 0, static_cast<int32_t>(btf_id));
}
constexpr bpf_insn exit_insn() { return make(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }
constexpr bpf_insn ja(int16_t off) { return make(BPF_JMP | BPF_JA, 0, 0, off, 0); }
// "gotol": unconditional jump with a 32-bit offset in imm (BPF_JMP32 | BPF_JA, kernel >= 6.4).
constexpr bpf_insn gotol(int32_t off) { return make(BPF_JMP32 | BPF_JA, 0, 0, 0, off); }
constexpr bpf_insn jmp_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) { return make(BPF_JMP | op | BPF_K, dst, 0, off, imm); }
constexpr bpf_insn jmp_reg(uint8_t op, uint8_t dst, uint8_t src, int16_t off) { return make(BPF_JMP | op | BPF_X, dst, src, off, 0); }
constexpr bpf_insn jmp32_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) { return make(BPF_JMP32 | op | BPF_K, dst, 0, off, imm); }
constexpr bpf_insn jmp32_reg(uint8_t op, uint8_t dst, uint8_t src, int16_t off) { return make(BPF_JMP32 | op | BPF_X, dst, src, off, 0); }

// Helper ids used by codegen (enum bpf_func_id).
inline constexpr int32_t kMapLookupElem = 1;
inline constexpr int32_t kKtimeGetNs = 5;
inline constexpr int32_t kSkbLoadBytes = 26;
inline constexpr int32_t kProbeReadKernel = 113;
inline constexpr int32_t kJiffies64 = 118;
inline constexpr int32_t kRingbufReserve = 131;
inline constexpr int32_t kRingbufSubmit = 132;
inline constexpr int32_t kXdpLoadBytes = 189;
inline constexpr int32_t kDynptrRead = 201;

}  // namespace nfjit::codegen::insn
