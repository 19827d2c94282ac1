#include "codegen/kernel_btf.h"

#include <bpf/btf.h>
#include <linux/btf.h>

namespace nfjit::codegen {

Result<KernelBtf> KernelBtf::load(const std::string& path) {
  struct btf* b = btf__parse(path.c_str(), nullptr);
  if (!b) {
    int err = errno ? errno : ENOENT;
    return make_error(err, "cannot read kernel BTF from " + path);
  }
  KernelBtf k;
  k.btf_ = std::shared_ptr<struct btf>(b, btf__free);
  return k;
}

Result<uint32_t> KernelBtf::func_id(const std::string& kfunc) const {
  int id = btf__find_by_name_kind(btf_.get(), kfunc.c_str(), BTF_KIND_FUNC);
  if (id <= 0) return make_error(EOPNOTSUPP, "kernel has no kfunc '" + kfunc + "' in its BTF");
  return static_cast<uint32_t>(id);
}

// Depth-first search through the members of `t`, descending into anonymous structs/unions.
static bool find_member(const struct btf* b, const struct btf_type* t, const std::string& name, uint32_t base_bits,
                        MemberInfo* out) {
  const struct btf_member* m = btf_members(t);
  for (uint16_t i = 0; i < btf_vlen(t); ++i, ++m) {
    uint32_t bits = base_bits + btf_member_bit_offset(t, i);
    const char* mname = btf__name_by_offset(b, m->name_off);
    const struct btf_type* mt = btf__type_by_id(b, m->type);
    int resolved = btf__resolve_type(b, m->type);
    const struct btf_type* rt = resolved > 0 ? btf__type_by_id(b, resolved) : mt;
    if (mname && name == mname) {
      out->bit_offset = bits;
      out->bitfield_size = btf_member_bitfield_size(t, i);
      long sz = btf__resolve_size(b, m->type);
      out->byte_size = sz > 0 ? static_cast<uint32_t>(sz) : 0;
      return true;
    }
    if ((!mname || !*mname) && rt && (btf_is_struct(rt) || btf_is_union(rt)))
      if (find_member(b, rt, name, bits, out)) return true;
  }
  return false;
}

Result<MemberInfo> KernelBtf::member(const std::string& strct, const std::string& member) const {
  int id = btf__find_by_name_kind(btf_.get(), strct.c_str(), BTF_KIND_STRUCT);
  if (id <= 0) return make_error(EOPNOTSUPP, "kernel BTF has no struct " + strct);
  MemberInfo mi;
  if (!find_member(btf_.get(), btf__type_by_id(btf_.get(), id), member, 0, &mi))
    return make_error(EOPNOTSUPP, "kernel BTF: struct " + strct + " has no member " + member);
  return mi;
}

Result<uint32_t> KernelBtf::member_offset(const std::string& strct, const std::string& member) const {
  auto mi = this->member(strct, member);
  if (!mi) return mi.error();
  return mi->bit_offset / 8;
}

}  // namespace nfjit::codegen
