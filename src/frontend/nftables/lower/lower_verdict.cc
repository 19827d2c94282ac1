// immediate (verdicts: accept, drop, jump, goto, return, continue; data for a later `meta mark set`)
// and objref (named counters).
#include <arpa/inet.h>  // before linux/netfilter.h: glibc's netinet/in.h must come first
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "frontend/nftables/lower/rule_lowerer.h"

namespace nfjit::nft::lower {

void RuleLowerer::immediate(nftnl_expr* e) {
  uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG);
  if (dreg != NFT_REG_VERDICT) {
    RegVal v;
    v.kind = RegVal::Kind::Data;
    v.data = attr_bytes(e, NFTNL_EXPR_IMM_DATA);
    v.len = static_cast<uint32_t>(v.data.size());
    v.what = "immediate data";
    store(dreg, v);
    return;
  }
  int32_t code = static_cast<int32_t>(nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT));
  ir::Action a;
  switch (code) {
    case NF_ACCEPT: a.kind = ir::ActionKind::Accept; break;
    case NF_DROP: a.kind = ir::ActionKind::Drop; break;
    case NFT_JUMP:
    case NFT_GOTO: {
      const char* c = nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN);
      if (!c || !tc_.t.chain(c)) refuse("jump/goto to an unknown chain");
      a.kind = code == NFT_JUMP ? ir::ActionKind::Jump : ir::ActionKind::Goto;
      a.target = c;
      break;
    }
    case NFT_RETURN: a.kind = ir::ActionKind::Return; break;
    case NFT_CONTINUE: a.kind = ir::ActionKind::Continue; break;
    default: refuse("verdict " + std::to_string(code) + " (queue/break/stolen) is not lowered");
  }
  emit(a);
  terminated_ = true;
}

void RuleLowerer::objref(nftnl_expr* e, uint32_t) {
  if (nftnl_expr_is_set(e, NFTNL_EXPR_OBJREF_SET_NAME)) refuse("object maps ('... map @objects') are not lowered");
  uint32_t type = nftnl_expr_get_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE);
  const char* name = nftnl_expr_get_str(e, NFTNL_EXPR_OBJREF_IMM_NAME);
  if (type != NFT_OBJECT_COUNTER || !name)
    refuse("named object of type " + std::to_string(type) + " (only named counters are lowered)");
  // A named counter counts like a counter expression; its value is the sum over every rule using it.
  pending_objrefs_.push_back({name, 0});
}

}  // namespace nfjit::nft::lower
