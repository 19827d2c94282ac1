// Kernel type information codegen needs: BTF ids of kfuncs (for BPF_PSEUDO_KFUNC_CALL) and offsets of
// struct members (sk_buff, nf_hook_state, net_device, nf_conn) that netfilter programs read through BTF
// pointers. Resolved from /sys/kernel/btf/vmlinux with libbpf, so offsets always match the running kernel.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nfjit/result.h"

struct btf;

namespace nfjit::codegen {

struct MemberInfo {
  uint32_t bit_offset = 0;     // from the start of the outer struct
  uint32_t bitfield_size = 0;  // 0 for a whole member
  uint32_t byte_size = 0;      // size of the member's type (for a bitfield, of its base type)
};

class KernelBtf {
 public:
  static Result<KernelBtf> load(const std::string& path = "/sys/kernel/btf/vmlinux");
  Result<uint32_t> func_id(const std::string& kfunc) const;
  // Byte offset of `member` in `strct`; members of anonymous unions/structs are found by name.
  Result<uint32_t> member_offset(const std::string& strct, const std::string& member) const;
  // Bit-level view, for bitfields such as sk_buff::pkt_type.
  Result<MemberInfo> member(const std::string& strct, const std::string& member) const;

 private:
  std::shared_ptr<struct btf> btf_;
};

}  // namespace nfjit::codegen
