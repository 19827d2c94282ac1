// `nfjit verify` as a user runs it (the real binary, root, scratch namespaces it makes and removes):
//  - clean on every iptables dump kept in tests/data/ (xtables/ and e2e/);
//  - clean on generated rulesets (ruleset_gen.h) for a fixed list of seeds, both families;
//    NFJIT_VERIFY_RULESETS (default 50) and NFJIT_VERIFY_PACKETS (default 1000) size it
//    (NFJIT_VERIFY_DUMP_PACKETS, default 500, the tests/data part);
//  - the oracle can fail: nfjitd with NFJIT_DEBUG_MISLOWER=port-range-off-by-one (a deliberately wrong
//    lowering of port ranges) makes verify exit 1 naming the rule and the packet one past the range;
//  - nft input is refused with a message; Ctrl-C leaves no namespace and no mount behind.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "netns.h"
#include "privileged.h"
#include "ruleset_gen.h"

namespace nfjit::verify_test {
namespace {

namespace fs = std::filesystem;

size_t env_size(const char* name, size_t dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : dflt;
}

struct VerifyRun {
  int status = -1;
  std::string out;
};

VerifyRun verify(const std::string& args, const std::string& env = "") {
  VerifyRun r;
  r.status = test::sh(env + " " + NFJIT_CLI_PATH + " verify " + args + " 2>&1", &r.out);
  return r;
}

std::string temp_file(const std::string& text) {
  char path[] = "/tmp/nfjit-verify-test-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

// Our scratch namespaces are named nfjv-<pid>-...: none may outlive a run.
std::string leftovers() {
  std::string out;
  test::sh("ip netns list | grep '^nfjv-' ; grep nfjit-verify /proc/mounts", &out);
  return out;
}

// Dumps whose -m limit rules run as BPF: they meet the open limit finding (VerifyFindings) at refill
// boundaries, so they are checked there. Every other dump must be clean here.
bool has_limit(const std::string& path) {
  static const char* kAffected[] = {"chains_for_mutation.rules", "ipt_synology_nas.rules", "ip6t_synology_nas.rules",
                                    "tum_chair_5k_filter.rules"};
  for (const char* a : kAffected)
    if (fs::path(path).filename() == a) return true;
  return false;
}

// with_limit: the dumps with -m limit rules (see VerifyFindings) or the others.
std::vector<std::string> dumps(bool with_limit) {
  std::vector<std::string> out;
  for (const char* d : {"xtables", "e2e"}) {
    fs::path dir = fs::path(NFJIT_TEST_DATA_DIR) / d;
    if (!fs::exists(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".rules" && has_limit(e.path().string()) == with_limit) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class VerifyDump : public testing::TestWithParam<std::string> {};

TEST_P(VerifyDump, CleanAgainstTheKernel) {
  NFJIT_REQUIRE_ROOT();
  VerifyRun r = verify("--max-packets " + std::to_string(env_size("NFJIT_VERIFY_DUMP_PACKETS", 500)) + " " + GetParam());
  EXPECT_EQ(r.status, 0) << r.out;
  std::cout << r.out.substr(0, r.out.find("\n\n")) << "\n";
  EXPECT_EQ(leftovers(), "");
}

std::string dump_name(const testing::TestParamInfo<std::string>& i) {
  std::string n = fs::path(i.param).parent_path().filename().string() + "_" + fs::path(i.param).stem().string();
  for (auto& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(TestsData, VerifyDump, testing::ValuesIn(dumps(false)), dump_name);

// The same for the dumps with -m limit rules: part of the open limit finding below.
class VerifyFindingsDump : public VerifyDump {};
TEST_P(VerifyFindingsDump, CleanAgainstTheKernel) {
  NFJIT_REQUIRE_ROOT();
  VerifyRun r = verify("--max-packets " + std::to_string(env_size("NFJIT_VERIFY_DUMP_PACKETS", 500)) + " " + GetParam());
  EXPECT_EQ(r.status, 0) << r.out;
}
INSTANTIATE_TEST_SUITE_P(TestsDataWithLimit, VerifyFindingsDump, testing::ValuesIn(dumps(true)), dump_name);

TEST(VerifyGenerated, CleanOnFixedSeeds) {
  NFJIT_REQUIRE_ROOT();
  size_t n = env_size("NFJIT_VERIFY_RULESETS", 50), packets = env_size("NFJIT_VERIFY_PACKETS", 1000);
  size_t first = env_size("NFJIT_VERIFY_FIRST_SEED", 1);
  auto t0 = std::chrono::steady_clock::now();
  for (size_t seed = first; seed < first + n; ++seed) {
    int family = seed % 3 == 0 ? 6 : 4;
    std::string text = generate_ruleset(seed, family);
    std::string path = temp_file(text);
    VerifyRun r = verify("--json --seed " + std::to_string(seed) + " --max-packets " + std::to_string(packets) + " -" +
                   std::to_string(family) + " " + path);
    EXPECT_EQ(r.status, 0) << "generated ruleset, seed " << seed << ":\n" << text << "\nreport:\n" << r.out;
    EXPECT_NE(r.out.find("\"packets\":" + std::to_string(packets)), std::string::npos) << r.out;
    unlink(path.c_str());
  }
  std::cout << "[ verify ] " << n << " generated rulesets x " << packets << " packets in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
  EXPECT_EQ(leftovers(), "");
}

// Issue 6: 10,000-rule rulesets are clean too. A generated ruleset (the generator's mix of matches,
// chains and targets) gets a 10,000-rule user chain jumped to first from INPUT: blocklist entries of
// a few shapes (source /32 or /24, optionally protocol and port), which become classifier lookups
// (docs/classifier.md), among the generated linear rules. The report must show the whole table compared
// as BPF, so the test cannot pass by leaving it to the kernel.
std::string with_big_chain(std::string text, int n) {
  std::string chain;
  for (int i = 0; i < n; ++i) {
    const std::string host = "198.19." + std::to_string(i / 250) + "." + std::to_string(1 + i % 250);
    switch (i % 4) {
      case 0: chain += "-A big -s " + host + "/32 -j DROP\n"; break;
      case 1: chain += "-A big -s " + host + "/32 -p udp -m udp --dport " + std::to_string(1000 + i % 5000) + " -j DROP\n"; break;
      case 2: chain += "-A big -s " + host + "/32 -p tcp -m tcp --dport " + std::to_string(2000 + i % 3000) + " -j ACCEPT\n"; break;
      default: chain += "-A big -s 198.19." + std::to_string(i / 250) + ".0/24 -p icmp -j RETURN\n"; break;
    }
  }
  const size_t filter = text.find("*filter");
  text.insert(text.find("COMMIT", filter), chain);
  // Declared with the other chains; jumped to by INPUT's first rule (save format has no -I).
  const size_t first_rule = text.find("\n-A ", filter) + 1;
  text.insert(first_rule, ":big - [0:0]\n-A INPUT -j big\n");
  return text;
}

TEST(VerifyGenerated, CleanWithTenThousandRuleChain) {
  NFJIT_REQUIRE_ROOT();
  int runs = 0;
  for (uint64_t seed = 1; runs < 2 && seed < 40; ++seed) {
    const std::string base = generate_ruleset(seed, 4);
    std::string probe_path = temp_file(base);
    VerifyRun probe = verify("--json --max-packets 16 -4 " + probe_path);
    unlink(probe_path.c_str());
    if (probe.out.find("\"rules_compared\":0,") != std::string::npos) continue;  // this seed's table stays in the kernel
    ++runs;
    std::string text = with_big_chain(base, 10000);
    std::string path = temp_file(text);
    VerifyRun r = verify("--json --seed " + std::to_string(seed) + " --max-packets 1500 -4 " + path);
    EXPECT_EQ(r.status, 0) << "seed " << seed << " plus a 10,000-rule chain; report:\n" << r.out.substr(0, 4000);
    auto at = r.out.find("\"rules_compared\":");
    ASSERT_NE(at, std::string::npos) << r.out.substr(0, 2000);
    EXPECT_GE(std::stoul(r.out.substr(at + 17)), 10000u) << "the table must run as BPF: " << r.out.substr(0, 2000);
    unlink(path.c_str());
  }
  EXPECT_EQ(runs, 2) << "no generated seed below 40 runs as BPF";
  EXPECT_EQ(leftovers(), "");
}

// FINDING (codegen, open): nfjit's LimitMatch refills its bucket in nanoseconds; xt_limit credits whole
// jiffies (CREDITS_PER_JIFFY). Near a refill the kernel and nfjit admit a different packet: verify names
// the -m limit rule and the packet. Fails until codegen follows xt_limit's jiffies arithmetic
// (bpf_jiffies64). Run alone: --gtest_filter=VerifyFindings.*
TEST(VerifyFindings, RateLimitedRulesMatchTheKernel) {
  NFJIT_REQUIRE_ROOT();
  for (uint64_t seed = 1; seed <= env_size("NFJIT_VERIFY_LIMIT_RULESETS", 10); ++seed) {
    std::string text = generate_ruleset(seed, seed % 3 == 0 ? 6 : 4, 24, true);
    std::string path = temp_file(text);
    VerifyRun r = verify("--seed " + std::to_string(seed) + " -" + std::to_string(seed % 3 == 0 ? 6 : 4) + " " + path);
    EXPECT_EQ(r.status, 0) << "seed " << seed << ":\n" << text << "\n" << r.out;
    unlink(path.c_str());
  }
}

TEST(VerifyGenerated, SameSeedSameRuleset) {
  EXPECT_EQ(generate_ruleset(7, 4), generate_ruleset(7, 4));
  EXPECT_NE(generate_ruleset(7, 4), generate_ruleset(8, 4));
}

// The oracle can fail: a wrong lowering (dport lo:hi lowered as lo:hi+1, only in nfjitd) is caught,
// with the rule as written and the packet one past the range.
TEST(VerifyOracle, CatchesPortRangeOffByOne) {
  NFJIT_REQUIRE_ROOT();
  std::string path = temp_file(
      "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      "-A INPUT -p tcp -m tcp --dport 1000:1999 -j DROP\n-A INPUT -p udp -m udp --dport 5000:5010 -j DROP\nCOMMIT\n");
  VerifyRun clean = verify("--max-packets 64 " + path);
  EXPECT_EQ(clean.status, 0) << clean.out;
  VerifyRun bad = verify("--max-packets 64 " + path, "NFJIT_DEBUG_MISLOWER=port-range-off-by-one");
  EXPECT_EQ(bad.status, 1) << bad.out;
  EXPECT_NE(bad.out.find("DIVERGENCE 1 (verdict)\n  rule:    line 5: -A INPUT -p tcp -m tcp --dport 1000:1999 -j DROP"),
            std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("TCP 27514 > 2000 [S]"), std::string::npos) << bad.out;  // the packet one past the range
  EXPECT_NE(bad.out.find("kernel:  delivered"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("nfjit:   dropped"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("line 6: -A INPUT -p udp -m udp --dport 5000:5010 -j DROP"), std::string::npos) << bad.out;
  unlink(path.c_str());
  EXPECT_EQ(leftovers(), "");
}

TEST(VerifyCli, RefusesNftRulesetsForNow) {
  std::string path = temp_file("table inet t {\n  chain c { type filter hook input priority 0; }\n}\n");
  VerifyRun r = verify(path);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("is an nft ruleset"), std::string::npos) << r.out;
  unlink(path.c_str());
}

TEST(VerifyCli, CtrlCRemovesEverything) {
  NFJIT_REQUIRE_ROOT();
  std::string path = temp_file(generate_ruleset(3, 4));
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(NFJIT_CLI_PATH, NFJIT_CLI_PATH, "verify", "--max-packets", "5000", path.c_str(), nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // mid-run: namespaces, daemon, bpffs exist
  EXPECT_NE(leftovers(), "");
  kill(pid, SIGINT);
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 130) << st;
  EXPECT_EQ(leftovers(), "");
  unlink(path.c_str());
}

}  // namespace
}  // namespace nfjit::verify_test
