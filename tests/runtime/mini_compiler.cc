#include "mini_compiler.h"

#include <bpf/btf.h>
#include <linux/bpf.h>

#include <cstring>

#include "nfjit/bpf_compat.h"

namespace nfjit::test {

namespace {

// Byte offset of sk_buff.len in the running kernel (it sits inside anonymous unions/structs).
int member_offset(const btf* b, int type_id, const char* name, int base) {
  const btf_type* t = btf__type_by_id(b, type_id);
  const btf_member* m = btf_members(t);
  for (int i = 0; i < btf_vlen(t); ++i, ++m) {
    int off = base + static_cast<int>(btf_member_bit_offset(t, i) / 8);
    const char* n = btf__name_by_offset(b, m->name_off);
    if (n && std::strcmp(n, name) == 0) return off;
    if (!n || !*n) {  // anonymous struct/union: look inside
      int inner = btf__resolve_type(b, m->type);
      const btf_type* it = btf__type_by_id(b, inner);
      if (btf_is_composite(it)) {
        int r = member_offset(b, inner, name, off);
        if (r >= 0) return r;
      }
    }
  }
  return -1;
}

int skb_len_offset() {
  static int off = [] {
    btf* b = btf__load_vmlinux_btf();
    if (!b) return -1;
    int id = btf__find_by_name_kind(b, "sk_buff", BTF_KIND_STRUCT);
    int o = id > 0 ? member_offset(b, id, "len", 0) : -1;
    btf__free(b);
    return o;
  }();
  return off;
}

bpf_insn I(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) { return {code, dst, src, off, imm}; }

}  // namespace

Result<codegen::Program> mini_compile(const ir::Table& t, const std::string& chain_name, const codegen::AttachPoint& at) {
  const ir::Chain* chain = t.find_chain(chain_name);
  if (!chain || !chain->base) return make_error(ENOENT, "no base chain " + chain_name);
  codegen::Program p;
  p.name = "nfjit_mini";
  p.attach = at;
  int32_t accept = 0, drop = 0;
  switch (at.kind) {
    case codegen::AttachKind::Xdp:
      p.prog_type = BPF_PROG_TYPE_XDP;
      p.expected_attach_type = BPF_XDP;
      accept = XDP_PASS, drop = XDP_DROP;
      break;
    case codegen::AttachKind::TcIngress:
    case codegen::AttachKind::TcEgress:
      p.prog_type = BPF_PROG_TYPE_SCHED_CLS;
      p.expected_attach_type = at.kind == codegen::AttachKind::TcIngress ? compat::BPF_TCX_INGRESS : compat::BPF_TCX_EGRESS;
      accept = compat::TCX_PASS, drop = compat::TCX_DROP;
      break;
    case codegen::AttachKind::Netfilter:
      p.prog_type = compat::BPF_PROG_TYPE_NETFILTER;
      p.expected_attach_type = compat::BPF_NETFILTER;
      accept = 1, drop = 0;
      break;
  }
  codegen::MapSpec counters;
  counters.name = "nfjit_cnt";
  counters.type = BPF_MAP_TYPE_PERCPU_ARRAY;
  counters.value_size = sizeof(codegen::CounterValue);
  counters.max_entries = static_cast<uint32_t>(chain->rules.size() + 1);
  counters.role = codegen::MapSpec::Role::Counters;
  p.maps.push_back(counters);
  p.counters_map = 0;

  auto& c = p.insns;
  // r7 = L3 length.
  switch (at.kind) {
    case codegen::AttachKind::Xdp:
      c.push_back(I(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0));  // data
      c.push_back(I(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_7, BPF_REG_1, 4, 0));  // data_end
      c.push_back(I(BPF_ALU64 | BPF_SUB | BPF_X, BPF_REG_7, BPF_REG_2, 0, 0));
      c.push_back(I(BPF_ALU64 | BPF_SUB | BPF_K, BPF_REG_7, 0, 0, 14));
      break;
    case codegen::AttachKind::TcIngress:
    case codegen::AttachKind::TcEgress:
      c.push_back(I(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_7, BPF_REG_1, offsetof(__sk_buff, len), 0));
      c.push_back(I(BPF_ALU64 | BPF_SUB | BPF_K, BPF_REG_7, 0, 0, 14));
      break;
    case codegen::AttachKind::Netfilter: {
      int off = skb_len_offset();
      if (off < 0) return make_error(ENOENT, "sk_buff.len not found in vmlinux BTF");
      c.push_back(I(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_2, BPF_REG_1, 8, 0));  // ctx->skb
      c.push_back(I(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_7, BPF_REG_2, static_cast<int16_t>(off), 0));
      break;
    }
  }
  // slot counter += {1, r7}, then return `verdict` (or fall through when verdict < 0).
  auto count_and = [&](int slot, int32_t verdict) {
    c.push_back(I(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, slot));
    c.push_back(I(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, 0));
    c.push_back(I(0, 0, 0, 0, 0));
    c.push_back(I(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0));
    c.push_back(I(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4));
    c.push_back(I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
    c.push_back(I(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 6, 0));
    c.push_back(I(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_0, 0, 0));
    c.push_back(I(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, 1));
    c.push_back(I(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_1, 0, 0));
    c.push_back(I(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_0, 8, 0));
    c.push_back(I(BPF_ALU64 | BPF_ADD | BPF_X, BPF_REG_1, BPF_REG_7, 0, 0));
    c.push_back(I(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_1, 8, 0));
    if (verdict >= 0) {
      c.push_back(I(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, verdict));
      c.push_back(I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    }
  };
  for (size_t i = 0; i < chain->rules.size(); ++i) {
    const ir::Rule& r = chain->rules[i];
    const ir::IntMatch* m = r.matches.size() == 1 ? std::get_if<ir::IntMatch>(&r.matches[0].m) : nullptr;
    if (!m || m->field != ir::Field::Length || m->ranges.size() != 1 || m->ranges[0].lo != m->ranges[0].hi)
      return make_error(EOPNOTSUPP, "rule '" + r.origin + "': the test compiler only knows one exact length match");
    int32_t verdict = r.action.kind == ir::ActionKind::Accept ? accept
                      : r.action.kind == ir::ActionKind::Drop ? drop
                                                              : -1;
    size_t before = c.size();
    c.push_back(I(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_7, 0, 0, static_cast<int32_t>(m->ranges[0].lo)));
    count_and(static_cast<int>(i), verdict);
    c[before].off = static_cast<int16_t>(c.size() - before - 1);
    p.counters.push_back({chain->name, static_cast<int32_t>(i)});
  }
  count_and(static_cast<int>(chain->rules.size()), chain->base->policy == ir::Policy::Accept ? accept : drop);
  p.counters.push_back({chain->name, -1});
  return p;
}

ir::Rule length_rule(uint32_t l3_len, ir::ActionKind action) {
  ir::Rule r;
  ir::IntMatch m;
  m.field = ir::Field::Length;
  m.ranges = {{l3_len, l3_len}};
  r.matches.push_back(ir::Match{m, false});
  r.action.kind = action;
  r.origin = std::string("length ") + std::to_string(l3_len) + " " + ir::to_string(action);
  return r;
}

ir::Table length_table(const std::string& name, ir::Family fam, ir::Hook hook, int32_t prio, ir::Policy policy,
                       std::vector<ir::Rule> rules, std::vector<std::string> devices) {
  ir::Table t;
  t.name = name;
  t.family = fam;
  ir::Chain c;
  c.name = "c";
  c.base = ir::BaseChain{hook, prio, policy, std::move(devices)};
  c.rules = std::move(rules);
  t.chains.push_back(std::move(c));
  return t;
}

}  // namespace nfjit::test
