// IR validation rejects what the kernel rejects, naming the rule.
#include <gtest/gtest.h>

#include "ir/validate.h"

namespace nfjit::ir {
namespace {

Rule jump(const std::string& origin, const std::string& to, ActionKind k = ActionKind::Jump) {
  Rule r;
  r.origin = origin;
  r.action.kind = k;
  r.action.target = to;
  return r;
}

Table table(std::vector<Chain> chains) {
  Table t;
  t.name = "filter";
  t.chains = std::move(chains);
  return t;
}

Chain base(const std::string& n, std::vector<Rule> rs) { return Chain{n, BaseChain{}, std::move(rs)}; }
Chain user(const std::string& n, std::vector<Rule> rs) { return Chain{n, std::nullopt, std::move(rs)}; }

TEST(Validate, AcceptsAcyclicGraph) {
  auto t = table({base("INPUT", {jump("-j a", "a"), jump("-g b", "b", ActionKind::Goto)}), user("a", {jump("-j b", "b")}),
                  user("b", {})});
  EXPECT_TRUE(validate(t).ok());
}

TEST(Validate, MissingChain) {
  auto r = validate(table({base("INPUT", {jump("-A INPUT -j nope", "nope")})}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, ENOENT);
  EXPECT_NE(r.error().message.find("-A INPUT -j nope"), std::string::npos);
}

TEST(Validate, BaseChainAsTarget) {
  auto r = validate(table({base("INPUT", {}), base("FORWARD", {jump("-A FORWARD -j INPUT", "INPUT")})}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, EINVAL);
  EXPECT_NE(r.error().message.find("-A FORWARD -j INPUT"), std::string::npos);
}

TEST(Validate, LoopIsEloop) {
  auto r = validate(table({base("INPUT", {jump("-j a", "a")}), user("a", {jump("-A a -j b", "b")}),
                           user("b", {jump("-A b -g a", "a", ActionKind::Goto)})}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, ELOOP);
  EXPECT_NE(r.error().message.find("-A b -g a"), std::string::npos) << r.error().message;
}

TEST(Validate, SelfLoopAndUnreachableLoop) {
  auto r = validate(table({base("INPUT", {}), user("x", {jump("-A x -j x", "x")})}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, ELOOP);
}

TEST(Validate, MissingSet) {
  Rule r;
  r.origin = "ip saddr @nope drop";
  r.matches.push_back(Match{SetMatch{"nope"}});
  auto res = validate(table({base("INPUT", {r})}));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().err, ENOENT);
  EXPECT_NE(res.error().message.find("ip saddr @nope drop"), std::string::npos);
}

}  // namespace
}  // namespace nfjit::ir
