// mark / connmark matches (xt_mark.c, xt_connmark.c) and the MARK target revision 2.
#include <netinet/in.h>  // before any linux/ header: glibc and uapi then agree on in_addr
#include <linux/netfilter/xt_connmark.h>
#include <linux/netfilter/xt_mark.h>

#include "frontend/xtables/decode/helpers.h"

namespace nfjit::xt {
namespace {

std::string value_mask(uint32_t v, uint32_t m) { return m == 0xffffffffu ? hex(v) : hex(v) + "/" + hex(m); }

// (field & mask) == mark; a mark with bits outside the mask never matches, as the range test also says.
Result<std::vector<ir::Match>> mark_decode(Bytes d, const RuleContext&) {
  auto m = as<xt_mark_mtinfo1>(d);
  return std::vector<ir::Match>{int_match(ir::Field::Mark, m.mark, m.mark, m.invert, m.mask)};
}
std::string mark_describe(Bytes d, const RuleContext&) {
  auto m = as<xt_mark_mtinfo1>(d);
  return "-m mark " + bang(m.invert) + "--mark " + value_mask(m.mark, m.mask);
}

// connmark_mt(): false without a conntrack entry whatever the invert flag, like an absent IR field.
Result<std::vector<ir::Match>> connmark_decode(Bytes d, const RuleContext&) {
  auto m = as<xt_connmark_mtinfo1>(d);
  return std::vector<ir::Match>{int_match(ir::Field::CtMark, m.mark, m.mark, m.invert, m.mask)};
}
std::string connmark_describe(Bytes d, const RuleContext&) {
  auto m = as<xt_connmark_mtinfo1>(d);
  return "-m connmark " + bang(m.invert) + "--mark " + value_mask(m.mark, m.mask);
}

// mark_tg(): skb->mark = (skb->mark & ~mask) ^ mark — the IR's SetMark.
Result<ir::Action> mark_tg_decode(Bytes d, const RuleContext&) {
  auto t = as<xt_mark_tginfo2>(d);
  ir::Action a;
  a.kind = ir::ActionKind::SetMark;
  a.mark_value = t.mark;
  a.mark_mask = t.mask;
  return a;
}
std::string mark_tg_describe(Bytes d, const RuleContext&) {
  auto t = as<xt_mark_tginfo2>(d);
  return "-j MARK --set-xmark " + hex(t.mark) + "/" + hex(t.mask);
}

const Extension kExt[] = {
    {false, "mark", 1, kFamBoth, true, sizeof(xt_mark_mtinfo1), 0, nullptr, 0, 0, nullptr, mark_decode, nullptr,
     mark_describe},
    {false, "connmark", 1, kFamBoth, true, sizeof(xt_connmark_mtinfo1), 0, nullptr, 0, 0, nullptr, connmark_decode,
     nullptr, connmark_describe},
    {true, "MARK", 2, kFamBoth, true, sizeof(xt_mark_tginfo2), 0, nullptr, 0, 0, nullptr, nullptr, mark_tg_decode,
     mark_tg_describe},
};

}  // namespace

std::span<const Extension> mark_extensions() { return kExt; }

}  // namespace nfjit::xt
