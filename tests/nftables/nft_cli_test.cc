// The real `nft` binary against the server (through the test LD_PRELOAD shim) and against the kernel,
// each in its own fresh namespace: `nft -f FILE` then `nft list ruleset` must print the same text.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>

#include "netns.h"
#include "privileged.h"

namespace nfjit::nft::test {
namespace {

using nfjit::test::Netns;

std::string strip_counters(std::string s) {
  return std::regex_replace(s, std::regex("packets [0-9]+ bytes [0-9]+"), "packets N bytes N");
}

class NftCli : public ::testing::TestWithParam<std::string> {};

TEST_P(NftCli, ListRulesetMatchesKernel) {
  NFJIT_REQUIRE_ROOT();
  std::string file = std::string(NFT_TEST_DATA) + "/" + GetParam();
  Netns kns("nftk"), nns("nftn");
  std::string kernel_out, ours_out;
  ASSERT_EQ(kns.run("nft -f " + file), 0);
  ASSERT_EQ(kns.run("nft list ruleset", &kernel_out), 0);

  std::string state = "/tmp/nfjit-nft-state-" + std::to_string(getpid()) + "-" + GetParam();
  unlink(state.c_str());
  std::string env = "env NFJIT_NFT_STATE=" + state + " LD_PRELOAD=" + NFT_TEST_SHIM + " ";
  std::string load_out;
  ASSERT_EQ(nns.run(env + "nft -f " + file, &load_out), 0) << load_out;
  ASSERT_EQ(nns.run(env + "nft list ruleset", &ours_out), 0) << ours_out;
  // Nothing reached the namespace's real netfilter.
  std::string real;
  nns.run("nft list ruleset", &real);
  EXPECT_EQ(real, "");
  unlink(state.c_str());
  EXPECT_EQ(strip_counters(ours_out), strip_counters(kernel_out));
}

INSTANTIATE_TEST_SUITE_P(Rulesets, NftCli,
                         ::testing::Values("debian-default.nft", "fw4-like.nft", "firewalld-like.nft"),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.find('.'));
                           for (auto& c : n) if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace nfjit::nft::test
