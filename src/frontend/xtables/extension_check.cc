#include "frontend/xtables/extension_check.h"

namespace nfjit::xt {

RuleContext rule_context(const Table& t, const Entry& e) {
  RuleContext c;
  c.family = t.abi->family;
  c.table = t.name;
  c.hook_mask = e.comefrom;
  auto ip = t.entry_bytes(e);
  if (c.family == ir::Family::Ipv6) {
    c.proto = load<uint16_t>(ip, offsetof(ip6t_ip6, proto));
    c.v6_proto_flag = ip[offsetof(ip6t_ip6, flags)] & IP6T_F_PROTO;
    c.proto_inverted = ip[offsetof(ip6t_ip6, invflags)] & XT_INV_PROTO;
  } else {
    c.proto = load<uint16_t>(ip, offsetof(ipt_ip, proto));
    c.proto_inverted = ip[offsetof(ipt_ip, invflags)] & XT_INV_PROTO;
  }
  return c;
}

namespace {

// xt_check_match / xt_check_target, then checkentry.
int check_one(const Extension& x, const ExtRef& ref, const RuleContext& c, Bytes data) {
  if (xt_align(x.size) != ref.data_size()) return EINVAL;
  if (x.table && c.table != x.table) return EINVAL;
  if (x.hooks && (c.hook_mask & ~x.hooks)) return EINVAL;
  if (x.proto && (x.proto != c.proto || c.proto_inverted)) return EINVAL;
  if (x.check) return x.check(data, c);
  return 0;
}

}  // namespace

Result<ExtensionVerdict> check_extensions(const Table& t, const std::vector<int32_t>* passed) {
  ExtensionVerdict v;
  for (size_t i = 0; i < t.entries.size(); ++i) {
    if (passed && i < passed->size() && (*passed)[i] >= 0) continue;
    const Entry& e = t.entries[i];
    RuleContext c = rule_context(t, e);
    auto visit = [&](const ExtRef& ref, bool target) -> std::optional<Error> {
      // xt_request_find_*: a name without a NUL in its 29 bytes is EINVAL before any lookup.
      if (ref.name.size() >= XT_EXTENSION_MAXNAMELEN)
        return make_error(EINVAL, "extension name not terminated in entry " + std::to_string(i));
      const Extension* x = find_extension(target, ref.name, ref.revision, c.family);
      if (!x) {
        // The built-in targets exist only at revision 0, registered per family: the kernel's lookup
        // falls back to the NFPROTO_UNSPEC list and ends in ENOENT.
        if (ref.name == XT_STANDARD_TARGET || ref.name == XT_ERROR_TARGET)
          return make_error(ENOENT, "built-in target with revision " + std::to_string(ref.revision));
        // Anything else nfjit does not register (another revision, another extension) only the kernel
        // can judge: report it and stop, as the kernel walks entries in order.
        v.unknown = std::string(target ? "target " : "match ") + ref.name + " revision " +
                    std::to_string(ref.revision) + " in entry " + std::to_string(i);
        v.unknown_is_target = target;
        v.unknown_name = ref.name;
        v.unknown_revision = ref.revision;
        return std::nullopt;
      }
      if (int err = check_one(*x, ref, c, t.ext_data(e, ref)))
        return make_error(err, std::string(target ? "target " : "match ") + ref.name + " in entry " +
                                   std::to_string(i) + " refused by its checks");
      return std::nullopt;
    };
    for (const ExtRef& m : e.matches) {
      if (auto err = visit(m, false)) return *err;
      if (v.unknown) return v;
    }
    if (auto err = visit(e.target, true)) return *err;
    if (v.unknown) return v;
  }
  return v;
}

}  // namespace nfjit::xt
