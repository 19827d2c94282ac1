// Replacing an attached ruleset while traffic flows: a packet sees the old version or the new one,
// never neither (no loss between two versions that accept it) and never nothing (no packet slips
// through between two versions that drop it). And a daemon restart (new Engine restoring from bpffs)
// keeps filtering and keeps counting.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "bpffs_mount.h"
#include "codegen_rules.h"
#include "netns.h"
#include "privileged.h"
#include "runtime/engine.h"
#include "udp_flow.h"

namespace nfjit::runtime {
namespace {

using ir::ActionKind;
using ir::Hook;

constexpr size_t kPayload = 64;

struct ReplaceCase {
  const char* name;
  ir::Family family;
  Hook hook;
  bool xdp;
};

// Two different versions (different rule counts, so different programs and counter layouts) that give
// the same verdict `v` to our datagrams.
std::pair<ir::Table, ir::Table> two_versions(const ReplaceCase& rc, uint32_t len, ActionKind v,
                                             const std::string& dev) {
  std::vector<std::string> devs;
  if (rc.hook == Hook::Ingress || rc.hook == Hook::Egress) devs = {dev};
  auto a = test::length_table("t", rc.family, rc.hook, 7, ir::Policy::Accept,
                              {test::length_rule(len + 1, ActionKind::Drop), test::length_rule(len, v)}, devs);
  auto b = test::length_table("t", rc.family, rc.hook, 7, ir::Policy::Accept,
                              {test::length_rule(len + 2, ActionKind::Drop), test::length_rule(len + 3, ActionKind::Continue),
                               test::length_rule(len, v)},
                              devs);
  return {a, b};
}

class ReplaceAt : public ::testing::TestWithParam<ReplaceCase> {};

TEST_P(ReplaceAt, ThousandSwapsUnderTrafficLoseNothingAndLeakNothing) {
  NFJIT_REQUIRE_ROOT();
  const ReplaceCase& rc = GetParam();
  test::VethPair v("rpl");
  test::UdpFlow flow(v.a, v.b, v.b_ip4, 5100);
  const uint32_t len = flow.l3_len(kPayload);
  Placement pl;
  if (rc.xdp) pl.overrides.push_back({"c", codegen::AttachKind::Xdp, {v.dev}});
  Engine engine(EngineOptions{test::codegen_compiler(), nullptr, ""});
  test::EnterNetns in(v.b);

  // Traffic in another thread. Lock-step (each datagram must arrive within 200 ms) when versions
  // accept; a bounded unpaced stream when they drop (nothing may arrive, so nothing to wait for).
  auto run = [&](const ir::Table& x, const ir::Table& y, int swaps, int* sent, int* received) {
    std::atomic<bool> stop{false};
    const bool lockstep = x.chains[0].rules.back().action.kind == ActionKind::Accept;
    std::thread traffic([&] {
      while (!stop && *sent < 500000) {
        ++*sent;
        if (lockstep) {
          if (flow.round_trip(kPayload, 200)) ++*received;
        } else {
          flow.send(1, kPayload);
        }
      }
    });
    for (int i = 0; i < swaps; ++i) {
      auto r = engine.install("t", i % 2 ? y : x, pl);
      if (!r) {
        ADD_FAILURE() << r.error().message;
        break;
      }
    }
    stop = true;
    traffic.join();
    if (!lockstep) *received = flow.receive();
  };

  auto [acc_a, acc_b] = two_versions(rc, len, ActionKind::Accept, v.dev);
  int sent = 0, received = 0;
  auto t0 = std::chrono::steady_clock::now();
  run(acc_a, acc_b, 1000, &sent, &received);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GT(sent, 100) << "too little traffic during the swaps to mean anything";
  EXPECT_EQ(received, sent) << "lost " << sent - received << " of " << sent << " during 1000 swaps";
  RecordProperty("swaps_per_second", std::to_string(1000 / secs));
  RecordProperty("datagrams_during_swaps", std::to_string(sent));

  // A version that drops takes effect at once: the very next datagram is gone.
  auto drop = test::length_table("t", rc.family, rc.hook, 7, ir::Policy::Accept,
                                 {test::length_rule(len, ActionKind::Drop)},
                                 rc.hook == Hook::Ingress ? std::vector<std::string>{v.dev} : std::vector<std::string>{});
  ASSERT_TRUE(engine.install("t", drop, pl).ok());
  EXPECT_FALSE(flow.round_trip(kPayload, 300));

  // Between two versions that both drop, nothing ever leaks through.
  auto [drop_a, drop_b] = two_versions(rc, len, ActionKind::Drop, v.dev);
  sent = received = 0;
  run(drop_a, drop_b, 1000, &sent, &received);
  EXPECT_GT(sent, 1000);
  EXPECT_EQ(received, 0) << received << " datagrams passed unfiltered during swaps";
}

INSTANTIATE_TEST_SUITE_P(Hooks, ReplaceAt,
                         ::testing::Values(ReplaceCase{"nf_input", ir::Family::Ipv4, Hook::Input, false},
                                           ReplaceCase{"xdp", ir::Family::Ipv4, Hook::Input, true},
                                           ReplaceCase{"tcx_ingress", ir::Family::Netdev, Hook::Ingress, false}),
                         [](const auto& info) { return std::string(info.param.name); });

// A failed install changes nothing: the old version keeps filtering and counting.
TEST(Replace, FailedInstallLeavesTheOldVersion) {
  NFJIT_REQUIRE_ROOT();
  test::VethPair v("rfl");
  test::UdpFlow flow(v.a, v.b, v.b_ip4, 5101);
  const uint32_t len = flow.l3_len(kPayload);
  Engine engine(EngineOptions{test::codegen_compiler(), nullptr, ""});
  test::EnterNetns in(v.b);
  auto old = test::length_table("t", ir::Family::Ipv4, Hook::Input, 3, ir::Policy::Accept,
                                {test::length_rule(len, ActionKind::Drop)});
  ASSERT_TRUE(engine.install("t", old).ok());
  // New version: a valid INPUT chain plus an OUTPUT chain the compiler refuses (a netfilter-hook program
  // cannot write skb->mark).
  auto bad = old;
  bad.chains[0].rules.clear();
  ir::Chain out;
  out.name = "out";
  out.base = ir::BaseChain{Hook::Output, 3, ir::Policy::Accept, {}};
  ir::Rule weird;
  weird.origin = "-A OUTPUT -j MARK --set-mark 1";
  weird.action.kind = ir::ActionKind::SetMark;
  weird.action.mark_value = 1;
  out.rules.push_back(weird);
  bad.chains.push_back(out);
  auto r = engine.install("t", bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("chain 'out'"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("-A OUTPUT -j MARK --set-mark 1"), std::string::npos) << r.error().message;
  EXPECT_FALSE(flow.round_trip(kPayload, 300)) << "the old version (drop) must still be attached";
  auto c = engine.counters("t");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(((*c)[{"c", 0}].packets), 1u);
  EXPECT_EQ(engine.attachment_names("t"), std::vector<std::string>{"nf-ipv4-input-p3"});
}

// Simulated daemon restart: the first Engine goes away (as on SIGKILL: its fds close, nothing is
// detached), a second one restores from bpffs while traffic flows, and counting continues.
TEST(Restore, RestartedEngineKeepsFilteringAndCounting) {
  NFJIT_REQUIRE_ROOT();
  test::BpffsMount fs;
  test::VethPair v("rst");
  test::UdpFlow flow(v.a, v.b, v.b_ip4, 5102);
  const uint32_t len = flow.l3_len(kPayload), drop_len = flow.l3_len(kPayload + 1);
  test::EnterNetns in(v.b);
  auto t = test::length_table("t", ir::Family::Inet, Hook::Input, 0, ir::Policy::Accept,
                              {test::length_rule(drop_len, ActionKind::Drop), test::length_rule(len, ActionKind::Accept)});
  auto first = std::make_unique<Engine>(EngineOptions{test::codegen_compiler(), nullptr, fs.path()});
  ASSERT_TRUE(first->install("filter", t).ok());
  struct stat st {};
  EXPECT_EQ(stat((fs.path() + "/filter/nf-ipv4-input-p0/link").c_str(), &st), 0);
  EXPECT_EQ(stat((fs.path() + "/filter/nf-ipv6-input-p0/progs").c_str(), &st), 0);

  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, received{0};
  std::thread traffic([&] {
    while (!stop) {
      ++sent;
      if (flow.round_trip(kPayload, 500)) ++received;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  first.reset();  // the daemon dies
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // While no daemon runs, the pinned version still drops what it dropped.
  flow.send(3, kPayload + 1);

  Engine second(EngineOptions{test::codegen_compiler(), nullptr, fs.path()});
  auto keys = second.restore();
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(*keys, std::vector<std::string>{"filter"});
  auto c1 = second.counters("filter");
  ASSERT_TRUE(c1.ok()) << c1.error().message;
  EXPECT_EQ(((*c1)[{"c", 0}].packets), 3u) << "drops while no daemon ran are counted";
  EXPECT_GT(((*c1)[{"c", 1}].packets), 0u);
  // The restored daemon re-installs (its saved table); the totals it gets back are the pinned ones.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto carried = second.install("filter", t);
  ASSERT_TRUE(carried.ok()) << carried.error().message;
  EXPECT_GE(((*carried)[{"c", 1}].packets), ((*c1)[{"c", 1}].packets));
  EXPECT_EQ(((*carried)[{"c", 0}].packets), 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  traffic.join();
  EXPECT_GT(sent.load(), 50);
  EXPECT_EQ(received.load(), sent.load()) << "traffic was interrupted by the restart";
  EXPECT_EQ(flow.receive(50), 0) << "the dropped datagrams must not have arrived";

  ASSERT_TRUE(second.remove("filter").ok());
  EXPECT_NE(stat((fs.path() + "/filter").c_str(), &st), 0) << "remove() unpins everything";
  flow.send(2, kPayload + 1);
  EXPECT_EQ(flow.receive(), 2) << "after remove() nothing filters";
}

}  // namespace
}  // namespace nfjit::runtime
