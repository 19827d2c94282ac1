// A rate limit is one bucket per rule, as in the kernel, even when its chain runs in several programs:
// a user chain jumped to from INPUT and from OUTPUT (two netfilter programs), or an inet chain compiled
// for IPv4 and for IPv6. With one bucket per program nfjit would admit up to twice the rate.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/netfilter.h>
#include <unistd.h>

#include "bpffs_mount.h"
#include "codegen_rules.h"
#include "netns.h"
#include "packet.h"
#include "privileged.h"
#include "runtime/engine.h"
#include "runtime/loader.h"

namespace nfjit::runtime {
namespace {

ir::Rule jump_to(const std::string& chain) {
  ir::Rule r;
  r.origin = "-j " + chain;
  r.action.kind = ir::ActionKind::Jump;
  r.action.target = chain;
  return r;
}

// INPUT and OUTPUT both jump to "lim": one rule dropping while a 1-per-hour, burst-1 limit allows.
ir::Table limit_table(ir::Family f, bool via_two_hooks) {
  ir::Table t;
  t.name = "t";
  t.family = f;
  ir::Chain in{"INPUT", ir::BaseChain{ir::Hook::Input, 0, ir::Policy::Accept, {}}, {jump_to("lim")}};
  t.chains.push_back(in);
  if (via_two_hooks) t.chains.push_back({"OUTPUT", ir::BaseChain{ir::Hook::Output, 0, ir::Policy::Accept, {}}, {jump_to("lim")}});
  ir::LimitMatch l;
  l.rate = 1;
  l.per_ns = 3600'000'000'000ull;
  l.burst = 1;
  ir::Rule r;
  r.origin = "limit rate 1/hour burst 1 packets drop";
  r.matches.push_back({l, false});
  r.action.kind = ir::ActionKind::Drop;
  t.chains.push_back({"lim", std::nullopt, {r}});
  return t;
}

// Runs `prog_id` once on a UDP packet of `family`; returns NF_ACCEPT / NF_DROP.
uint32_t run_once(uint32_t prog_id, int family) {
  int fd = bpf_prog_get_fd_by_id(prog_id);
  EXPECT_GE(fd, 0);
  test::PacketSpec s;
  s.family = family;
  if (family == 6) s.src = "2001:db8::2", s.dst = "2001:db8::1";
  std::vector<uint8_t> ctx(48, 0);  // struct nf_hook_state: hook and pf
  ctx[0] = NF_INET_LOCAL_IN;
  ctx[1] = family == 6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
  auto r = test_run(fd, test::build_frame(s, {2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}), ctx);
  close(fd);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r->retval : 0xdead;
}

TEST(SharedLimit, OneBucketAcrossHooks) {
  NFJIT_REQUIRE_ROOT();
  test::BpffsMount fs;
  test::Netns ns("shlim");
  test::EnterNetns in(ns);
  Engine engine(EngineOptions{test::codegen_compiler(), nullptr, fs.path()});
  ASSERT_TRUE(engine.install("t", limit_table(ir::Family::Ipv4, true)).ok());
  auto ids = engine.program_ids("t");
  ASSERT_EQ(ids.size(), 2u);
  const uint32_t in_id = ids.at("nf-ipv4-input-p0"), out_id = ids.at("nf-ipv4-output-p0");
  EXPECT_EQ(run_once(in_id, 4), static_cast<uint32_t>(NF_DROP)) << "the burst admits the first packet";
  EXPECT_EQ(run_once(out_id, 4), static_cast<uint32_t>(NF_ACCEPT))
      << "the same rule through OUTPUT: its bucket is already empty";
  EXPECT_EQ(run_once(in_id, 4), static_cast<uint32_t>(NF_ACCEPT));
  ASSERT_TRUE(engine.remove("t").ok());
}

TEST(SharedLimit, OneBucketAcrossFamiliesOfAnInetChain) {
  NFJIT_REQUIRE_ROOT();
  test::BpffsMount fs;
  test::Netns ns("shlim6");
  test::EnterNetns in(ns);
  Engine engine(EngineOptions{test::codegen_compiler(), nullptr, fs.path()});
  ASSERT_TRUE(engine.install("t", limit_table(ir::Family::Inet, false)).ok());
  auto ids = engine.program_ids("t");
  ASSERT_EQ(ids.size(), 2u) << "an inet chain is one program per family";
  EXPECT_EQ(run_once(ids.at("nf-ipv4-input-p0"), 4), static_cast<uint32_t>(NF_DROP));
  EXPECT_EQ(run_once(ids.at("nf-ipv6-input-p0"), 6), static_cast<uint32_t>(NF_ACCEPT))
      << "IPv6 goes through the IPv4 packet's bucket";
  ASSERT_TRUE(engine.remove("t").ok());
}

}  // namespace
}  // namespace nfjit::runtime
