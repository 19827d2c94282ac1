// The tables the xtables front-end serves and the kernel's bootstrap contents of each: the built-in
// chains with ACCEPT policies, then the terminating ERROR entry (xt_alloc_initial_table in
// net/netfilter/xt_repldata.h), exactly as GET_INFO/GET_ENTRIES show them on a fresh kernel table.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "frontend/xtables/blob.h"

namespace nfjit::xt {

struct TableSpec {
  const char* name;
  uint32_t valid_hooks;  // 1 << NF_INET_* of the built-in chains
  int32_t priority;      // the table's netfilter priority (NF_IP_PRI_*)
  bool lowered;          // nfjit runs it as BPF; false = always the kernel's (nat)
};

const TableSpec* find_table_spec(std::string_view name);

// "PREROUTING", "INPUT", ... for NF_INET_* hook numbers.
const char* hook_chain_name(unsigned hook);
ir::Hook hook_to_ir(unsigned hook);

// The ipt_replace header and entries the kernel starts the table with.
ReplaceHeader bootstrap_header(const FamilyAbi& abi, const TableSpec& spec);
std::vector<uint8_t> bootstrap_blob(const FamilyAbi& abi, const TableSpec& spec);
// The same, validated (comefrom computed) — what a fresh table holds.
Table bootstrap_table(const FamilyAbi& abi, const TableSpec& spec);

}  // namespace nfjit::xt
