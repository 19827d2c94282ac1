#include "frontend/xtables/tables.h"

#include <linux/netfilter.h>

namespace nfjit::xt {

namespace {
constexpr uint32_t kIn = 1u << NF_INET_LOCAL_IN, kFwd = 1u << NF_INET_FORWARD, kOut = 1u << NF_INET_LOCAL_OUT,
                   kPre = 1u << NF_INET_PRE_ROUTING, kPost = 1u << NF_INET_POST_ROUTING;

// iptable_{filter,mangle,raw,security,nat}.c; priorities NF_IP_PRI_{RAW,MANGLE,FILTER,SECURITY}.
const TableSpec kSpecs[] = {
    {"filter", kIn | kFwd | kOut, 0, true},
    {"mangle", kPre | kIn | kFwd | kOut | kPost, -150, true},
    {"raw", kPre | kOut, -300, true},
    {"security", kIn | kFwd | kOut, 50, true},
    {"nat", kPre | kIn | kOut | kPost, -100, false},
};

constexpr size_t kStandardTargetSize = xt_align(sizeof(xt_standard_target));  // 40
constexpr size_t kErrorTargetSize = xt_align(sizeof(xt_error_target));        // 64
}  // namespace

const TableSpec* find_table_spec(std::string_view name) {
  for (const auto& s : kSpecs)
    if (name == s.name) return &s;
  return nullptr;
}

const char* hook_chain_name(unsigned hook) {
  static const char* n[] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};
  return hook < kNumHooks ? n[hook] : "?";
}

ir::Hook hook_to_ir(unsigned hook) {
  static const ir::Hook h[] = {ir::Hook::Prerouting, ir::Hook::Input, ir::Hook::Forward, ir::Hook::Output,
                               ir::Hook::Postrouting};
  return h[hook];
}

ReplaceHeader bootstrap_header(const FamilyAbi& abi, const TableSpec& spec) {
  ReplaceHeader h;
  h.name = spec.name;
  h.valid_hooks = spec.valid_hooks;
  uint32_t bytes = 0, n = 0;
  for (unsigned hook = 0; hook < kNumHooks; ++hook) {
    if (!(spec.valid_hooks & (1u << hook))) continue;  // xt_alloc_initial_table leaves these 0
    h.hook_entry[hook] = h.underflow[hook] = bytes;
    bytes += abi.entry_size + kStandardTargetSize;
    ++n;
  }
  h.num_entries = n + 1;
  h.size = bytes + abi.entry_size + kErrorTargetSize;
  h.num_counters = 0;
  return h;
}

std::vector<uint8_t> bootstrap_blob(const FamilyAbi& abi, const TableSpec& spec) {
  ReplaceHeader h = bootstrap_header(abi, spec);
  std::vector<uint8_t> b(h.size, 0);
  size_t pos = 0;
  auto entry = [&](size_t target_size) {
    store<uint16_t>(&b[pos + abi.off_target_offset], abi.entry_size);
    store<uint16_t>(&b[pos + abi.off_next_offset], abi.entry_size + target_size);
    store<uint16_t>(&b[pos + abi.entry_size], target_size);
  };
  for (unsigned hook = 0; hook < kNumHooks; ++hook) {
    if (!(spec.valid_hooks & (1u << hook))) continue;
    entry(kStandardTargetSize);
    store<int32_t>(&b[pos + abi.entry_size + sizeof(xt_entry_target)], -NF_ACCEPT - 1);
    pos += abi.entry_size + kStandardTargetSize;
  }
  entry(kErrorTargetSize);
  std::memcpy(&b[pos + abi.entry_size + 2], XT_ERROR_TARGET, sizeof(XT_ERROR_TARGET));
  std::memcpy(&b[pos + abi.entry_size + sizeof(xt_entry_target)], XT_ERROR_TARGET, sizeof(XT_ERROR_TARGET));
  return b;
}

Table bootstrap_table(const FamilyAbi& abi, const TableSpec& spec) {
  auto t = validate_structure(abi, bootstrap_header(abi, spec), bootstrap_blob(abi, spec));
  return std::move(t.value());  // a bootstrap is valid by construction (unit-tested against the kernel)
}

}  // namespace nfjit::xt
