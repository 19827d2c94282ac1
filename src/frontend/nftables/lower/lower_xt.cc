// iptables-nft's compat expressions (`match` / `target`): the same xt name, revision and data blob the
// legacy ABI carries, decoded by the xtables front-end's decoders (frontend/xtables/decode/registry.h)
// after the same checkentry() checks the kernel's nft_compat runs.
#include <arpa/inet.h>  // before linux/netfilter.h: glibc's netinet/in.h must come first
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "frontend/nftables/lower/rule_lowerer.h"
#include "frontend/xtables/decode/extension.h"

namespace nfjit::nft::lower {

namespace {

xt::RuleContext context(const RuleLowerer& rl, ir::Family fam) {
  xt::RuleContext ctx;
  ctx.family = fam;
  ctx.table = rl.table().name;
  for (ir::Hook h : rl.hooks()) {
    switch (h) {
      case ir::Hook::Prerouting: ctx.hook_mask |= 1u << NF_INET_PRE_ROUTING; break;
      case ir::Hook::Input: ctx.hook_mask |= 1u << NF_INET_LOCAL_IN; break;
      case ir::Hook::Forward: ctx.hook_mask |= 1u << NF_INET_FORWARD; break;
      case ir::Hook::Output: ctx.hook_mask |= 1u << NF_INET_LOCAL_OUT; break;
      case ir::Hook::Postrouting: ctx.hook_mask |= 1u << NF_INET_POST_ROUTING; break;
      default: break;
    }
  }
  auto l4 = rl.pinned_l4();
  if (l4.size() == 1) ctx.proto = static_cast<uint16_t>(*l4.begin());
  ctx.v6_proto_flag = ctx.proto != 0;
  return ctx;
}

ir::Family xt_family(const RuleLowerer& rl) {
  uint8_t f = rl.tc().family;
  if (f == NFPROTO_IPV4) return ir::Family::Ipv4;
  if (f == NFPROTO_IPV6) return ir::Family::Ipv6;
  rl.refuse("xt compat expression outside an ip/ip6 table");
}

}  // namespace

void RuleLowerer::xt_match(nftnl_expr* e) {
  const char* name = nftnl_expr_get_str(e, NFTNL_EXPR_MT_NAME);
  uint32_t rev = nftnl_expr_get_u32(e, NFTNL_EXPR_MT_REV);
  auto data = attr_bytes(e, NFTNL_EXPR_MT_INFO);
  ir::Family fam = xt_family(*this);
  const xt::Extension* ext = name ? xt::find_extension(false, name, static_cast<uint8_t>(rev), fam) : nullptr;
  if (!ext || !ext->decode_match)
    refuse("xt match '" + std::string(name ? name : "?") + "': " + xt::unsupported_reason(false, name ? name : "", static_cast<uint8_t>(rev)));
  auto ctx = context(*this, fam);
  if (ext->check)
    if (int err = ext->check(data, ctx)) refuse("xt match '" + std::string(name) + "' refused by its check (errno " + std::to_string(err) + ")");
  auto ms = ext->decode_match(data, ctx);
  if (!ms) refuse("xt match '" + std::string(name) + "': " + ms.error().message);
  for (auto& m : *ms) add_match(std::move(m));
}

void RuleLowerer::xt_target(nftnl_expr* e) {
  const char* name = nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME);
  uint32_t rev = nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV);
  auto data = attr_bytes(e, NFTNL_EXPR_TG_INFO);
  ir::Family fam = xt_family(*this);
  const xt::Extension* ext = name ? xt::find_extension(true, name, static_cast<uint8_t>(rev), fam) : nullptr;
  if (!ext || !ext->decode_target)
    refuse("xt target '" + std::string(name ? name : "?") + "': " + xt::unsupported_reason(true, name ? name : "", static_cast<uint8_t>(rev)));
  auto ctx = context(*this, fam);
  if (ext->check)
    if (int err = ext->check(data, ctx)) refuse("xt target '" + std::string(name) + "' refused by its check (errno " + std::to_string(err) + ")");
  auto a = ext->decode_target(data, ctx);
  if (!a) refuse("xt target '" + std::string(name) + "': " + a.error().message);
  bool terminal = a->kind != ir::ActionKind::Log && a->kind != ir::ActionKind::SetMark && a->kind != ir::ActionKind::Continue;
  emit(*a);
  if (terminal) terminated_ = true;
}

}  // namespace nfjit::nft::lower
