// meta and ct loads -> register values, and `meta mark set`. A key is lowered only where the kernel can
// read it the way the IR field does at every hook the chain is reachable from ("where readable").
#include <arpa/inet.h>  // before linux/netfilter.h: glibc's netinet/in.h must come first
#include <linux/netfilter/nf_tables.h>

#include "frontend/nftables/lower/rule_lowerer.h"

namespace nfjit::nft::lower {

namespace {

RegVal host(ir::Field f, uint32_t len, std::string what) {
  RegVal v;
  v.kind = RegVal::Kind::HostInt;
  v.field = f;
  v.len = len;
  v.what = std::move(what);
  return v;
}

const char* meta_key_name(uint32_t k) {
  switch (k) {
    case NFT_META_LEN: return "len";
    case NFT_META_PROTOCOL: return "protocol";
    case NFT_META_PRIORITY: return "priority";
    case NFT_META_MARK: return "mark";
    case NFT_META_IIF: return "iif";
    case NFT_META_OIF: return "oif";
    case NFT_META_IIFNAME: return "iifname";
    case NFT_META_OIFNAME: return "oifname";
    case NFT_META_IIFTYPE: return "iiftype";
    case NFT_META_OIFTYPE: return "oiftype";
    case NFT_META_SKUID: return "skuid";
    case NFT_META_SKGID: return "skgid";
    case NFT_META_NFTRACE: return "nftrace";
    case NFT_META_RTCLASSID: return "rtclassid";
    case NFT_META_SECMARK: return "secmark";
    case NFT_META_NFPROTO: return "nfproto";
    case NFT_META_L4PROTO: return "l4proto";
    case NFT_META_BRI_IIFNAME: return "ibrname";
    case NFT_META_BRI_OIFNAME: return "obrname";
    case NFT_META_PKTTYPE: return "pkttype";
    case NFT_META_CPU: return "cpu";
    case NFT_META_IIFGROUP: return "iifgroup";
    case NFT_META_OIFGROUP: return "oifgroup";
    case NFT_META_CGROUP: return "cgroup";
    case NFT_META_PRANDOM: return "random";
    case NFT_META_SECPATH: return "secpath";
    case NFT_META_TIME_NS: return "time";
    case NFT_META_TIME_DAY: return "day";
    case NFT_META_TIME_HOUR: return "hour";
    default: return nullptr;
  }
}

const char* ct_key_name(uint32_t k) {
  switch (k) {
    case NFT_CT_STATE: return "state";
    case NFT_CT_DIRECTION: return "direction";
    case NFT_CT_STATUS: return "status";
    case NFT_CT_MARK: return "mark";
    case NFT_CT_SECMARK: return "secmark";
    case NFT_CT_EXPIRATION: return "expiration";
    case NFT_CT_HELPER: return "helper";
    case NFT_CT_L3PROTOCOL: return "l3proto";
    case NFT_CT_PROTOCOL: return "protocol";
    case NFT_CT_LABELS: return "label";
    case NFT_CT_ZONE: return "zone";
    default: return nullptr;
  }
}

}  // namespace

void RuleLowerer::meta(nftnl_expr* e) {
  uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);
  const char* kn = meta_key_name(key);
  std::string what = std::string("'meta ") + (kn ? kn : std::to_string(key).c_str()) + "'";
  if (nftnl_expr_is_set(e, NFTNL_EXPR_META_SREG)) {
    if (key != NFT_META_MARK) refuse(what + " set is not lowered");
    const RegVal& v = reg(nftnl_expr_get_u32(e, NFTNL_EXPR_META_SREG), "meta mark set");
    ir::Action a;
    a.kind = ir::ActionKind::SetMark;
    // xt_MARK semantics: mark = (mark & ~mask) ^ value.
    if (v.kind == RegVal::Kind::Data && v.data.size() == 4) {
      a.mark_mask = 0xffffffffu;
      a.mark_value = int_value(RegVal{RegVal::Kind::HostInt}, v.data.data(), 4);
    } else if (v.kind == RegVal::Kind::HostInt && v.field == ir::Field::Mark && v.len == 4 && v.mask.size() == 4) {
      RegVal h{RegVal::Kind::HostInt};
      a.mark_mask = ~int_value(h, v.mask.data(), 4);
      a.mark_value = int_value(h, v.xor_.data(), 4);
    } else {
      refuse("'meta mark set' from a value other than a constant or 'meta mark and/or/xor' is not lowered");
    }
    emit(a);
    return;
  }
  uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG);
  const auto& hs = hooks();
  auto unreadable_at = [&](std::initializer_list<ir::Hook> bad) {
    for (ir::Hook h : bad)
      if (hs.count(h)) refuse(what + " not readable at " + hook_name(h));
  };
  switch (key) {
    case NFT_META_LEN: return store(dreg, host(ir::Field::Length, 4, "meta len"));
    case NFT_META_PROTOCOL: {
      RegVal v;
      v.kind = RegVal::Kind::EtherType;
      v.field = ir::Field::NfProto;
      v.len = 2;
      v.what = "meta protocol";
      return store(dreg, v);
    }
    case NFT_META_MARK: return store(dreg, host(ir::Field::Mark, 4, "meta mark"));
    case NFT_META_IIF:
      // The kernel reads 0 where there is no input device; the IR field is absent there instead.
      unreadable_at({ir::Hook::Output, ir::Hook::Postrouting, ir::Hook::Egress});
      return store(dreg, host(ir::Field::IifIndex, 4, "meta iif"));
    case NFT_META_OIF:
      unreadable_at({ir::Hook::Prerouting, ir::Hook::Input, ir::Hook::Ingress});
      return store(dreg, host(ir::Field::OifIndex, 4, "meta oif"));
    case NFT_META_IIFNAME:
    case NFT_META_OIFNAME: {
      // A missing device reads as an all-zero name in the kernel and in the IR alike.
      RegVal v;
      v.kind = RegVal::Kind::IfName;
      v.field = key == NFT_META_IIFNAME ? ir::Field::IifIndex : ir::Field::OifIndex;
      v.out = key == NFT_META_OIFNAME;
      v.len = 16;
      v.what = key == NFT_META_IIFNAME ? "meta iifname" : "meta oifname";
      return store(dreg, v);
    }
    case NFT_META_SKUID:
      unreadable_at({ir::Hook::Prerouting, ir::Hook::Input, ir::Hook::Forward, ir::Hook::Postrouting,
                     ir::Hook::Ingress, ir::Hook::Egress});
      return store(dreg, host(ir::Field::SkUid, 4, "meta skuid"));
    case NFT_META_NFPROTO: {
      RegVal v;
      v.kind = RegVal::Kind::NfProto;
      v.field = ir::Field::NfProto;
      v.len = 1;
      v.what = "meta nfproto";
      return store(dreg, v);
    }
    case NFT_META_L4PROTO: return store(dreg, host(ir::Field::L4Proto, 1, "meta l4proto"));
    case NFT_META_PKTTYPE: return store(dreg, host(ir::Field::PktType, 1, "meta pkttype"));
    default: refuse(what + " has no IR field");
  }
}

void RuleLowerer::ct(nftnl_expr* e) {
  uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY);
  const char* kn = ct_key_name(key);
  std::string what = std::string("'ct ") + (kn ? kn : std::to_string(key).c_str()) + "'";
  if (nftnl_expr_is_set(e, NFTNL_EXPR_CT_SREG)) refuse(what + " set is not lowered");
  if (nftnl_expr_is_set(e, NFTNL_EXPR_CT_DIR)) refuse(what + " with a direction (original/reply) has no IR field");
  uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_DREG);
  if (key == NFT_CT_STATE) return store(dreg, host(ir::Field::CtState, 4, "ct state"));
  if (key == NFT_CT_MARK) return store(dreg, host(ir::Field::CtMark, 4, "ct mark"));
  refuse(what + " has no IR field");
}

}  // namespace nfjit::nft::lower
