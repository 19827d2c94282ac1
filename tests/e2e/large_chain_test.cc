// A 10,000-rule chain compiles, loads, attaches at NF LOCAL_IN in a namespace through the Engine, and
// filters real traffic: a packet matching rule 9,999 gets that rule's verdict and counter, one matching
// rule 5,000 gets its verdict, one matching nothing gets the policy. Twice: as shipped (the rules are
// one classifier lookup, classify.h) and as linear code (no 16-bit jump overflow, no verifier blow-up).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "e2e_support.h"
#include "packet.h"
#include "privileged.h"

namespace nfjit::e2e {
namespace {

constexpr int kRules = 10000;
constexpr int kMid = kRules / 2;  // a rule in the middle (5,000)

std::string src_of(int i) { return "198.19." + std::to_string(i / 250) + "." + std::to_string(i % 250); }
uint16_t port_of(int i) { return static_cast<uint16_t>(1000 + i); }

// Rule i: -s src_of(i) -p udp --dport port_of(i); DROP for all but the last, which ACCEPTs; policy DROP.
Table big_table() {
  Table t;
  t.name = "big";
  t.family = Family::Ipv4;
  Chain c;
  c.name = "INPUT";
  c.base = BaseChain{Hook::Input, 0, Policy::Drop, {}};
  for (int i = 0; i < kRules; ++i) {
    bool last = i == kRules - 1;
    c.rules.push_back(rule("-A INPUT -s " + src_of(i) + " -p udp --dport " + std::to_string(port_of(i)) +
                               (last ? " -j ACCEPT" : " -j DROP"),
                           {m_prefix(Field::Saddr, src_of(i), 32), m_eq(Field::L4Proto, 17), m_eq(Field::Dport, port_of(i))},
                           last ? ActionKind::Accept : ActionKind::Drop));
  }
  t.chains.push_back(std::move(c));
  return t;
}

int udp_listener(const test::Netns& ns, uint16_t port) {
  test::EnterNetns in(ns);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "bind " << port << ": " << strerror(errno);
  return fd;
}

int drain(int fd, int quiet_ms = 200) {
  int got = 0;
  char buf[2048];
  pollfd p{fd, POLLIN, 0};
  while (poll(&p, 1, quiet_ms) > 0)
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0) ++got;
  return got;
}

class LargeChain : public ::testing::TestWithParam<bool> {};  // param: linear code only

TEST_P(LargeChain, TenThousandRulesAttachAtLocalInAndFilterRealTraffic) {
  NFJIT_REQUIRE_ROOT();
  const bool linear = GetParam();
  codegen::CompileOptions opt;
  if (linear) opt.classify.min_rules = 0;
  test::VethPair v("big");
  v.b.run_ok("sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.veth0.rp_filter=0");
  const Table t = big_table();

  // Compile time on its own, then the whole install (compile + maps + verifier + attach).
  auto compile = real_compiler(opt);
  codegen::AttachPoint at;
  at.kind = codegen::AttachKind::Netfilter;
  at.pf = 2;
  at.hook = Hook::Input;
  auto t0 = std::chrono::steady_clock::now();
  auto prog = compile(t, "INPUT", at);
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(prog.ok()) << prog.error().message;
  runtime::Engine engine(runtime::EngineOptions{compile, nullptr, ""});
  std::chrono::steady_clock::time_point t2, t3;
  {
    test::EnterNetns in(v.b);
    t2 = std::chrono::steady_clock::now();
    auto r = engine.install("big", t);
    t3 = std::chrono::steady_clock::now();
    ASSERT_TRUE(r.ok()) << r.error().message.substr(0, 300) << "\n...\n" << (r.error().message.size() > 1500 ? r.error().message.substr(r.error().message.size() - 1500) : "");
  }
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::printf("%d-rule chain: %zu instructions; compile %.1f ms; install (compile + load/verify + attach) %.1f ms\n",
              kRules, prog->insns.size(), ms(t0, t1), ms(t2, t3));
  RecordProperty("instructions", std::to_string(prog->insns.size()));
  RecordProperty("compile_ms", std::to_string(ms(t0, t1)));
  RecordProperty("install_ms", std::to_string(ms(t2, t3)));
  if (linear) EXPECT_GT(prog->insns.size(), 32768u) << "the chain is long enough to need jumps beyond 16-bit offsets";
  else EXPECT_LT(prog->insns.size(), 1000u) << "10,000 rules of one shape are one hash lookup";

  const int rx_last = udp_listener(v.b, port_of(kRules - 1)), rx_mid = udp_listener(v.b, port_of(kMid));
  std::string bmac;
  v.b.run("cat /sys/class/net/veth0/address", &bmac);
  while (!bmac.empty() && bmac.back() == '\n') bmac.pop_back();
  std::string amac;
  v.a.run("cat /sys/class/net/veth0/address", &amac);
  while (!amac.empty() && amac.back() == '\n') amac.pop_back();
  auto send = [&](const std::string& src, uint16_t dport, int n) {
    test::EnterNetns in(v.a);
    test::Injector inj(v.dev);
    test::PacketSpec s;
    s.src = src;
    s.dst = v.b_ip4;
    s.proto = 17;
    s.dport = dport;
    for (int i = 0; i < n; ++i) {
      s.sport = static_cast<uint16_t>(30000 + i);
      EXPECT_TRUE(inj.send(test::build_frame(s, test::parse_mac(bmac), test::parse_mac(amac))));
    }
    return static_cast<uint64_t>(test::build_l3(s).size());
  };

  const uint64_t len_last = send(src_of(kRules - 1), port_of(kRules - 1), 3);  // rule 9999: ACCEPT
  const uint64_t len_mid = send(src_of(kMid), port_of(kMid), 2);               // rule 5000: DROP
  send(src_of(kMid), port_of(kRules - 1), 4);                                  // no rule: policy DROP
  EXPECT_EQ(drain(rx_last), 3) << "rule 9999 accepts exactly its own packets";
  EXPECT_EQ(drain(rx_mid), 0) << "rule 5000 drops";

  auto c = engine.counters("big");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(((*c)[{"INPUT", kRules - 1}].packets), 3u);
  EXPECT_EQ(((*c)[{"INPUT", kRules - 1}].bytes), 3 * len_last);
  EXPECT_EQ(((*c)[{"INPUT", kMid}].packets), 2u);
  EXPECT_EQ(((*c)[{"INPUT", kMid}].bytes), 2 * len_mid);
  EXPECT_EQ(((*c)[{"INPUT", -1}].packets), 4u) << "policy";
  uint64_t others = 0;
  for (const auto& [k, val] : *c)
    if (k.second != kRules - 1 && k.second != kMid && k.second != -1) others += val.packets;
  EXPECT_EQ(others, 0u) << "no other rule matched";

  close(rx_last);
  close(rx_mid);
  test::EnterNetns in(v.b);
  EXPECT_TRUE(engine.remove("big").ok());
}

INSTANTIATE_TEST_SUITE_P(Shapes, LargeChain, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Linear" : "Classified"; });

}  // namespace
}  // namespace nfjit::e2e
