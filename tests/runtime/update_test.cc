// Engine::update: a change in one base chain reinstalls only the attachment points whose program input
// changed. The others keep their program (same id), their counters keep counting, and the report says
// what the caller must carry over; traffic through a kept point never notices the change.
#include <gtest/gtest.h>

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

// Chain "in" at INPUT counting our datagrams (and `extra` rules that match nothing before it), chain
// "out" at OUTPUT with `out_rules` rules that match nothing.
ir::Table two_chains(uint32_t len, int extra, int out_rules) {
  auto t = test::length_table("t", ir::Family::Ipv4, Hook::Input, 5, ir::Policy::Accept, {});
  t.chains[0].name = "in";
  for (int i = 0; i < extra; ++i) t.chains[0].rules.push_back(test::length_rule(len + 100 + i, ActionKind::Drop));
  t.chains[0].rules.push_back(test::length_rule(len, ActionKind::Accept));
  ir::Chain out;
  out.name = "out";
  out.base = ir::BaseChain{Hook::Output, 5, ir::Policy::Accept, {}};
  for (int i = 0; i < out_rules; ++i) out.rules.push_back(test::length_rule(len + 200 + i, ActionKind::Drop));
  t.chains.push_back(out);
  return t;
}

uint64_t packets(const std::vector<ProgramCounters>& programs, const std::string& chain, int rule) {
  auto v = sum_for_slots(programs, {codegen::CounterSlot{chain, rule}});
  return v[0].packets;
}

TEST(Update, UnchangedPointsKeepTheirProgramAndCounters) {
  NFJIT_REQUIRE_ROOT();
  test::BpffsMount fs;
  test::VethPair v("upd");
  test::UdpFlow flow(v.a, v.b, v.b_ip4, 5110);
  const uint32_t len = flow.l3_len(kPayload);
  test::EnterNetns in(v.b);
  Engine engine(EngineOptions{test::codegen_compiler(), nullptr, fs.path()});
  const std::string kIn = "nf-ipv4-input-p5", kOut = "nf-ipv4-output-p5";

  auto first = engine.update("t", two_chains(len, 0, 1));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->loaded, (std::vector<std::string>{kIn, kOut}));
  EXPECT_TRUE(first->kept.empty());
  auto ids0 = engine.program_ids("t");
  ASSERT_EQ(ids0.size(), 2u);
  EXPECT_EQ(flow.send(3, kPayload), 3);
  EXPECT_EQ(flow.receive(), 3);

  // OUTPUT changes: INPUT's program stays, with its 3 packets; the caller learns it starts there.
  auto second = engine.update("t", two_chains(len, 0, 2));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->loaded, std::vector<std::string>{kOut});
  EXPECT_EQ(second->kept, std::vector<std::string>{kIn});
  auto ids1 = engine.program_ids("t");
  EXPECT_EQ(ids1[kIn], ids0[kIn]) << "INPUT did not change: its program must not be replaced";
  EXPECT_NE(ids1[kOut], ids0[kOut]);
  EXPECT_EQ(packets(second->old, "in", 0), 3u);
  EXPECT_EQ(packets(second->carried, "in", 0), 3u);
  EXPECT_EQ(packets(second->carried, "out", 0), 0u) << "a reloaded program starts at 0";

  EXPECT_EQ(flow.send(2, kPayload), 2);
  EXPECT_EQ(flow.receive(), 2);
  auto live = engine.program_counters("t");
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(packets(*live, "in", 0), 5u) << "the kept program goes on counting";

  // Nothing changed at all: nothing is loaded.
  auto same = engine.update("t", two_chains(len, 0, 2));
  ASSERT_TRUE(same.ok()) << same.error().message;
  EXPECT_TRUE(same->loaded.empty());
  EXPECT_EQ(engine.program_ids("t"), ids1);

  // INPUT changes (a rule before ours): a new program, and the old one's final counts in the report.
  auto third = engine.update("t", two_chains(len, 1, 2));
  ASSERT_TRUE(third.ok()) << third.error().message;
  EXPECT_EQ(third->loaded, std::vector<std::string>{kIn});
  EXPECT_EQ(third->kept, std::vector<std::string>{kOut});
  EXPECT_NE(engine.program_ids("t")[kIn], ids1[kIn]);
  EXPECT_EQ(packets(third->old, "in", 0), 5u);
  EXPECT_TRUE(third->carried.size() == 1 && packets(third->carried, "in", 0) == 0u);
  EXPECT_EQ(flow.send(1, kPayload), 1);
  EXPECT_EQ(flow.receive(), 1);
  live = engine.program_counters("t");
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(packets(*live, "in", 1), 1u) << "our rule is now rule 1 of the new program";

  // install() keeps its meaning: every point gets a new program.
  auto before = engine.program_ids("t");
  ASSERT_TRUE(engine.install("t", two_chains(len, 1, 2)).ok());
  auto after = engine.program_ids("t");
  EXPECT_NE(after[kIn], before[kIn]);
  EXPECT_NE(after[kOut], before[kOut]);

  // A restarted engine knows no IR: its first update reloads everything.
  Engine second_engine(EngineOptions{test::codegen_compiler(), nullptr, fs.path()});
  ASSERT_TRUE(second_engine.restore().ok());
  auto again = second_engine.update("t", two_chains(len, 1, 2));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->loaded.size(), 2u);
  ASSERT_TRUE(second_engine.remove("t").ok());
}

TEST(Counters, SumForSlotsAddsProgramsAndSkipsWhatIsNotAsked) {
  ProgramCounters a{{{"INPUT", 0}, {"INPUT", 1}, {"user", 0}, {"INPUT", -1}}, {{1, 10}, {2, 20}, {3, 30}, {4, 40}}};
  ProgramCounters b{{{"FORWARD", 0}, {"user", 0}}, {{5, 50}, {6, 60}}};
  auto v = sum_for_slots({a, b}, {{"user", 0}, {"INPUT", -1}, {"INPUT", 7}, {"OUTPUT", 0}, {"INPUT", 0}});
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0].packets, 9u);
  EXPECT_EQ(v[0].bytes, 90u);
  EXPECT_EQ(v[1].packets, 4u);
  EXPECT_EQ(v[2].packets, 0u);
  EXPECT_EQ(v[3].packets, 0u);
  EXPECT_EQ(v[4].packets, 1u);
}

}  // namespace
}  // namespace nfjit::runtime
