// A real 5,500-rule router filter (tests/data/xtables/tum_chair_5k_filter.rules: ~90 chains, per-VLAN
// MAC/IP pair chains of up to 2,000 rules, conntrack, multiport, LOG and REJECT) loaded into the kernel
// with iptables-legacy-restore, lowered, and compiled for each of its netfilter hooks: every program must
// pass the verifier. (It is the shape that exposed per-call-site re-verification of user chains.)
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "codegen/compile.h"
#include "codegen/kernel_btf.h"
#include "frontend/xtables/blob.h"
#include "frontend/xtables/extension_check.h"
#include "frontend/xtables/lower.h"
#include "frontend/xtables/tables.h"
#include "kernel_tables.h"
#include "netns.h"
#include "privileged.h"
#include "runtime/loader.h"

namespace nfjit::xt {
namespace {

using namespace nfjit::xt::test;

TEST(LargeRuleset, TumFilterCompilesAndVerifiesAtEveryHook) {
  NFJIT_REQUIRE_ROOT();
  const FamilyAbi& abi = abi_ipv4();
  nfjit::test::Netns k("xtlarge");
  k.run_ok("iptables-legacy-restore < " + data_path("tum_chair_5k_filter.rules"));
  KernelTable kt;
  {
    nfjit::test::EnterNetns in(k);
    kt = capture(abi, "filter");
  }
  auto opt = replace_option(kt, 1);
  auto hdr = parse_replace_header(opt);
  ASSERT_TRUE(hdr.ok());
  auto t = validate_structure(abi, *hdr, kt.blob());
  ASSERT_TRUE(t.ok()) << t.error().message;
  auto ext = check_extensions(*t);
  ASSERT_TRUE(ext.ok() && !ext->unknown);
  Lowered l = lower_table(*t, find_table_spec(t->name)->priority);
  ASSERT_TRUE(l.ok()) << l.refusals.front().rule << ": " << l.refusals.front().reason;
  auto btf = codegen::KernelBtf::load();
  ASSERT_TRUE(btf.ok());
  nfjit::test::EnterNetns in(k);
  for (const char* chain : {"INPUT", "FORWARD", "OUTPUT"}) {
    SCOPED_TRACE(chain);
    const ir::Chain* c = l.table.find_chain(chain);
    ASSERT_NE(c, nullptr);
    codegen::AttachPoint at;
    at.kind = codegen::AttachKind::Netfilter;
    at.pf = 2;
    at.hook = c->base->hook;
    auto p = codegen::compile(l.table, chain, at, *btf);
    ASSERT_TRUE(p.ok()) << p.error().message;
    runtime::LoadOptions lo;
    lo.log_level = 4;  // statistics
    auto lp = runtime::load_program(*p, lo);
    ASSERT_TRUE(lp.ok()) << lp.error().message.substr(0, 2000);
    std::printf("%s: %zu instructions, %s", chain, p->insns.size(),
                lp->verifier_log.substr(lp->verifier_log.find("processed")).c_str());
  }
}

}  // namespace
}  // namespace nfjit::xt
