// Human-readable listing of a Program: one instruction per line, "pc: text", with chain names and jump
// targets as labels, map references by name and kfunc calls by name.
#include <cstdio>
#include <map>
#include <set>

#include "codegen/compile.h"

namespace nfjit::codegen {

namespace {

const char* alu_op(uint8_t op) {
  switch (op) {
    case BPF_ADD: return "+=";
    case BPF_SUB: return "-=";
    case BPF_MUL: return "*=";
    case BPF_DIV: return "/=";
    case BPF_OR: return "|=";
    case BPF_AND: return "&=";
    case BPF_LSH: return "<<=";
    case BPF_RSH: return ">>=";
    case BPF_MOD: return "%=";
    case BPF_XOR: return "^=";
    case BPF_MOV: return "=";
    case BPF_ARSH: return "s>>=";
    case BPF_NEG: return "= -";
  }
  return "?=";
}

const char* jmp_op(uint8_t op) {
  switch (op) {
    case BPF_JEQ: return "==";
    case BPF_JNE: return "!=";
    case BPF_JGT: return ">";
    case BPF_JGE: return ">=";
    case BPF_JLT: return "<";
    case BPF_JLE: return "<=";
    case BPF_JSGT: return "s>";
    case BPF_JSGE: return "s>=";
    case BPF_JSLT: return "s<";
    case BPF_JSLE: return "s<=";
    case BPF_JSET: return "&";
  }
  return "?";
}

const char* size_name(uint8_t size) {
  switch (size) {
    case BPF_B: return "u8";
    case BPF_H: return "u16";
    case BPF_W: return "u32";
    case BPF_DW: return "u64";
  }
  return "?";
}

const char* helper_name(int32_t id) {
  switch (id) {
    case 1: return "map_lookup_elem";
    case 5: return "ktime_get_ns";
    case 118: return "jiffies64";
    case 26: return "skb_load_bytes";
    case 113: return "probe_read_kernel";
    case 131: return "ringbuf_reserve";
    case 132: return "ringbuf_submit";
    case 188: return "xdp_get_buff_len";
    case 189: return "xdp_load_bytes";
    case 201: return "dynptr_read";
  }
  return "helper";
}

std::string fmt(const char* f, auto... a) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a...);
  return buf;
}

// Jump target of instruction at pc, or -1.
int64_t target_of(const std::vector<bpf_insn>& v, size_t pc) {
  const bpf_insn& i = v[pc];
  uint8_t cls = BPF_CLASS(i.code), op = BPF_OP(i.code);
  if (cls != BPF_JMP && cls != BPF_JMP32) return -1;
  if (op == BPF_EXIT) return -1;
  if (op == BPF_CALL) return i.src_reg == BPF_PSEUDO_CALL ? static_cast<int64_t>(pc) + 1 + i.imm : -1;
  if (op == BPF_JA && cls == BPF_JMP32) return static_cast<int64_t>(pc) + 1 + i.imm;
  return static_cast<int64_t>(pc) + 1 + i.off;
}

}  // namespace

std::string disassemble(const Program& p) {
  const auto& v = p.insns;
  std::map<int64_t, std::string> names;
  for (const auto& s : p.symbols) names[s.insn] = s.name;
  std::set<int64_t> targets;
  for (size_t pc = 0; pc < v.size(); ++pc)
    if (int64_t t = target_of(v, pc); t >= 0) targets.insert(t);
  auto label = [&](int64_t t) { return "L" + std::to_string(t); };
  std::map<uint32_t, std::string> kfuncs;
  for (const auto& k : p.kfuncs) kfuncs[k.btf_id] = k.name;

  std::string out;
  for (size_t pc = 0; pc < v.size(); ++pc) {
    if (auto it = names.find(pc); it != names.end()) out += "<" + it->second + ">:\n";
    if (targets.count(pc)) out += label(pc) + ":\n";
    const bpf_insn& i = v[pc];
    uint8_t cls = BPF_CLASS(i.code), op = BPF_OP(i.code), mode = BPF_MODE(i.code), sz = BPF_SIZE(i.code);
    std::string t;
    std::string src = BPF_SRC(i.code) == BPF_X ? "r" + std::to_string(i.src_reg) : fmt("%d", i.imm);
    switch (cls) {
      case BPF_ALU64:
      case BPF_ALU: {
        const char* r = cls == BPF_ALU64 ? "r" : "w";
        if (op == BPF_END) t = fmt("r%d = %s%d r%d", i.dst_reg, BPF_SRC(i.code) == BPF_TO_BE ? "be" : "le", i.imm, i.dst_reg);
        else if (BPF_SRC(i.code) == BPF_X) t = fmt("%s%d %s %s%d", r, i.dst_reg, alu_op(op), r, i.src_reg);
        else t = fmt("%s%d %s %d", r, i.dst_reg, alu_op(op), i.imm);
        break;
      }
      case BPF_LDX: t = fmt("r%d = *(%s *)(r%d %+d)", i.dst_reg, size_name(sz), i.src_reg, i.off); break;
      case BPF_ST: t = fmt("*(%s *)(r%d %+d) = %d", size_name(sz), i.dst_reg, i.off, i.imm); break;
      case BPF_STX:
        if (mode == BPF_ATOMIC) {
          if (i.imm == BPF_CMPXCHG) t = fmt("r0 = cmpxchg((%s *)(r%d %+d), r0, r%d)", size_name(sz), i.dst_reg, i.off, i.src_reg);
          else if (i.imm == BPF_XCHG) t = fmt("r%d = xchg((%s *)(r%d %+d), r%d)", i.src_reg, size_name(sz), i.dst_reg, i.off, i.src_reg);
          else t = fmt("lock *(%s *)(r%d %+d) += r%d", size_name(sz), i.dst_reg, i.off, i.src_reg);
        } else {
          t = fmt("*(%s *)(r%d %+d) = r%d", size_name(sz), i.dst_reg, i.off, i.src_reg);
        }
        break;
      case BPF_LD:
        if (sz == BPF_DW && mode == BPF_IMM && pc + 1 < v.size()) {
          if (i.src_reg == BPF_PSEUDO_MAP_FD) {
            std::string mname = i.imm >= 0 && static_cast<size_t>(i.imm) < p.maps.size() ? p.maps[i.imm].name : "?";
            t = fmt("r%d = map[%s]", i.dst_reg, mname.c_str());
          } else {
            uint64_t val = static_cast<uint32_t>(i.imm) | (static_cast<uint64_t>(static_cast<uint32_t>(v[pc + 1].imm)) << 32);
            t = fmt("r%d = 0x%llx ll", i.dst_reg, static_cast<unsigned long long>(val));
          }
          out += fmt("%5zu: ", pc) + t + "\n";
          ++pc;
          continue;
        }
        t = "ld?";
        break;
      case BPF_JMP:
      case BPF_JMP32:
        if (op == BPF_EXIT) t = "exit";
        else if (op == BPF_CALL) {
          if (i.src_reg == BPF_PSEUDO_CALL) {
            int64_t tg = target_of(v, pc);
            t = "call " + (names.count(tg) ? "<" + names[tg] + ">" : label(tg));
          } else if (i.src_reg == BPF_PSEUDO_KFUNC_CALL) {
            t = fmt("call kfunc %s#%d", kfuncs.count(i.imm) ? kfuncs[i.imm].c_str() : "?", i.imm);
          } else {
            t = fmt("call %s#%d", helper_name(i.imm), i.imm);
          }
        } else if (op == BPF_JA) {
          t = (cls == BPF_JMP32 ? "gotol " : "goto ") + label(target_of(v, pc));
        } else {
          const char* r = cls == BPF_JMP32 ? "w" : "r";
          t = fmt("if %s%d %s %s goto ", r, i.dst_reg, jmp_op(op),
                  BPF_SRC(i.code) == BPF_X ? fmt("%s%d", r, i.src_reg).c_str() : fmt("%d", i.imm).c_str()) +
              label(target_of(v, pc));
        }
        break;
      default: t = fmt("?? code 0x%02x", i.code);
    }
    (void)src;
    out += fmt("%5zu: ", pc) + t + "\n";
  }
  return out;
}

}  // namespace nfjit::codegen
