// nfjitd as a user runs it, with the unmodified iptables-legacy tools through `nfjit exec`:
// iptables-legacy-save finding nfjit's tables, state that outlives the daemon (SIGKILL and SIGTERM under
// traffic), malformed SET_REPLACE blobs through the daemon, and --strict refusals the user can read.
// The kernel's own ip_tables in another namespace is the reference throughout.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
// after netinet/in.h
#include <linux/netfilter_ipv4/ip_tables.h>

#include <cstring>
#include <regex>

#include "daemon/client.h"
#include "iptables_support.h"
#include "oracle.h"
#include "privileged.h"

namespace nfjit::e2e {
namespace {

using test::Netns;

// The same commands in K (the kernel) and through nfjit in N.
void both(const Netns& k, const Netns& n, const Nfjitd& d, const std::string& cmd) {
  k.run_ok(cmd);
  n.run_ok(d.shim() + cmd);
}

TEST(IptablesSave, ListsNfjitTablesAsTheKernelListsItsOwn) {
  NFJIT_REQUIRE_ROOT();
  Netns k("iptsave-k"), n("iptsave-n");
  Nfjitd d(n);
  d.start();
  both(k, n, d, "iptables-legacy -A INPUT -p tcp --dport 22 -j ACCEPT");
  both(k, n, d, "iptables-legacy -t nat -A POSTROUTING -s 198.18.0.0/15 -o lo -j MASQUERADE");
  both(k, n, d, "iptables-legacy -t mangle -A PREROUTING -p udp --dport 53 -j ACCEPT");
  both(k, n, d, "iptables-legacy -N logdrop");
  both(k, n, d, "iptables-legacy -A logdrop -j LOG --log-prefix drop:");
  both(k, n, d, "iptables-legacy -A logdrop -j DROP");
  both(k, n, d, "ip6tables-legacy -A INPUT -s 2001:db8::/32 -j DROP");
  std::string kernel = strip_save_comments(k.run_ok("iptables-legacy-save -c"));
  std::string nfjit = strip_save_comments(n.run_ok(d.shim() + "iptables-legacy-save -c"));
  EXPECT_EQ(nfjit, kernel);
  EXPECT_NE(nfjit.find("*filter"), std::string::npos) << nfjit;  // not just the kernel's nat
  EXPECT_EQ(strip_save_comments(n.run_ok(d.shim() + "ip6tables-legacy-save -c")),
            strip_save_comments(k.run_ok("ip6tables-legacy-save -c")));
  // The kernel of N holds only nat; filter and mangle run as BPF.
  EXPECT_EQ(tables_with_rules(n.run_ok("iptables-legacy-save")), std::vector<std::string>{"nat"});
  EXPECT_EQ(tables_with_rules(n.run_ok("ip6tables-legacy-save")), std::vector<std::string>{});
  std::string st = d.status();
  EXPECT_NE(st.find("ip filter: BPF at"), std::string::npos) << st;
  EXPECT_NE(st.find("ip mangle: BPF at"), std::string::npos) << st;
  EXPECT_NE(st.find("ip6 filter: BPF at"), std::string::npos) << st;
  EXPECT_NE(st.find("ip nat: kernel ip_tables"), std::string::npos) << st;
  // Without a daemon the shim's fopen is the real one: the kernel's own list.
  EXPECT_EQ(n.run_ok(std::string(NFJIT_CLI_PATH) + " exec --socket /nonexistent.sock -- iptables-legacy-save | grep '^\\*'"),
            "*nat\n");
}

// Counters of the test ruleset, read through the shim.
struct Seen {
  test::Count icmp, udp_drop;
};
Seen read_counts(const Netns& ns, const Nfjitd& d, std::string* rules = nullptr) {
  std::string save = ns.run_ok(d.shim() + "iptables-legacy-save -c -t filter");
  auto t = test::parse_iptables_save_counters(save, "filter");
  Seen s;
  if (t["INPUT"].rules.size() >= 1) s.icmp = t["INPUT"].rules[0];
  if (t["probes"].rules.size() >= 1) s.udp_drop = t["probes"].rules[0];
  if (rules) *rules = ns.run_ok(d.shim() + "iptables-legacy -S");
  return s;
}

void send_udp(const Netns& from, int count) {
  from.run_ok("python3 -c \"import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
              "[s.sendto(b'x'*32, ('198.18.0.1', 7000)) for _ in range(" +
              std::to_string(count) + ")]\"");
}

TEST(IptablesRestart, FilteringAndCountersOutliveTheDaemon) {
  NFJIT_REQUIRE_ROOT();
  test::VethPair p("iptrs");
  Nfjitd d(p.a);
  d.start();
  p.a.run_ok("sh -c \"printf '*filter\\n:INPUT ACCEPT [0:0]\\n-N probes\\n-A INPUT -p icmp -j ACCEPT\\n"
             "-A INPUT -p udp --dport 7000 -j probes\\n-A probes -j DROP\\nCOMMIT\\n' | " +
             d.shim() + "iptables-legacy-restore\"");
  p.b.run_ok("ping -c 3 -i 0.2 -W 2 198.18.0.1");
  send_udp(p.b, 5);
  std::string rules_before;
  Seen before = read_counts(p.a, d, &rules_before);
  EXPECT_GE(before.icmp.packets, 3u);
  EXPECT_EQ(before.udp_drop.packets, 5u);
  // The kernel's own ip_tables in the namespace holds no rule.
  EXPECT_EQ(tables_with_rules(p.a.run_ok("iptables-legacy-save")), std::vector<std::string>{});

  int sent = 5;
  for (int sig : {SIGKILL, SIGTERM}) {
    SCOPED_TRACE(sig == SIGKILL ? "SIGKILL" : "SIGTERM");
    d.stop(sig);
    // While no daemon runs: accepted traffic still passes, dropped traffic is still dropped and counted.
    p.b.run_ok("ping -c 2 -i 0.2 -W 2 198.18.0.1");
    send_udp(p.b, 4);
    sent += 4;
    d.start();
    std::string rules_after;
    Seen after = read_counts(p.a, d, &rules_after);
    EXPECT_EQ(rules_after, rules_before);
    EXPECT_GE(after.icmp.packets, before.icmp.packets + 2);
    EXPECT_EQ(after.udp_drop.packets, static_cast<uint64_t>(sent));
    EXPECT_EQ(after.udp_drop.bytes, static_cast<uint64_t>(sent) * (20 + 8 + 32));
    std::string listing = p.a.run_ok(d.shim() + "iptables-legacy -L probes -v -x -n");
    EXPECT_TRUE(std::regex_search(listing, std::regex("\\s" + std::to_string(sent) + "\\s+" +
                                                      std::to_string(sent * 60) + " DROP")))
        << listing;
    before = after;
    EXPECT_NE(d.log().find("adopted from its pins"), std::string::npos) << d.log();
  }
  // A rule added after the restarts keeps the counters of the others (iptables' read-modify-write).
  p.a.run_ok(d.shim() + "iptables-legacy -A INPUT -p tcp --dport 22 -j ACCEPT");
  EXPECT_EQ(read_counts(p.a, d).udp_drop.packets, static_cast<uint64_t>(sent));
}

// GET_INFO + GET_ENTRIES of `table` as an ipt_replace option (counters pointer 0), from a raw socket in
// the calling thread's namespace or through the daemon.
std::vector<uint8_t> replace_of(const std::function<std::vector<uint8_t>(int, std::vector<uint8_t>, uint32_t)>& get) {
  ipt_getinfo gi{};
  std::strcpy(gi.name, "filter");
  auto info = get(IPT_SO_GET_INFO, std::vector<uint8_t>(reinterpret_cast<uint8_t*>(&gi), reinterpret_cast<uint8_t*>(&gi + 1)),
                  sizeof gi);
  if (info.size() != sizeof gi) return {};
  std::memcpy(&gi, info.data(), sizeof gi);
  ipt_get_entries ge{};
  std::strcpy(ge.name, "filter");
  ge.size = gi.size;
  std::vector<uint8_t> req(reinterpret_cast<uint8_t*>(&ge), reinterpret_cast<uint8_t*>(&ge + 1));
  auto entries = get(IPT_SO_GET_ENTRIES, req, sizeof ge + gi.size);
  if (entries.size() != sizeof ge + gi.size) return {};
  std::vector<uint8_t> opt(sizeof(ipt_replace) + gi.size);
  auto* r = reinterpret_cast<ipt_replace*>(opt.data());
  std::strcpy(r->name, "filter");
  r->valid_hooks = gi.valid_hooks;
  r->num_entries = gi.num_entries;
  r->size = gi.size;
  std::memcpy(r->hook_entry, gi.hook_entry, sizeof gi.hook_entry);
  std::memcpy(r->underflow, gi.underflow, sizeof gi.underflow);
  r->num_counters = gi.num_entries;
  std::memcpy(opt.data() + sizeof(ipt_replace), entries.data() + sizeof ge, gi.size);
  return opt;
}

TEST(IptablesMalformed, DaemonAnswersWithTheKernelsErrnoAndKeepsItsRules) {
  NFJIT_REQUIRE_ROOT();
  Netns k("iptbad-k"), n("iptbad-n");
  Nfjitd d(n);
  d.start();
  both(k, n, d, "iptables-legacy -A INPUT -p tcp --dport 22 -c 3 180 -j ACCEPT");
  both(k, n, d, "iptables-legacy -N chain1");
  both(k, n, d, "iptables-legacy -A chain1 -j DROP");
  both(k, n, d, "iptables-legacy -A INPUT -j chain1");
  std::string rules_before = n.run_ok(d.shim() + "iptables-legacy-save -c");
  pid_t pid = d.pid();

  std::vector<uint8_t> kopt, nopt;
  int raw = -1;
  {
    test::EnterNetns in(k);
    raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    kopt = replace_of([&](int opt, std::vector<uint8_t> buf, uint32_t len) {
      buf.resize(len);
      socklen_t l = len;
      if (getsockopt(raw, SOL_IP, opt, buf.data(), &l) != 0) return std::vector<uint8_t>{};
      buf.resize(l);
      return buf;
    });
  }
  {
    test::EnterNetns in(n);
    auto c = wire::Client::connect(d.socket());
    ASSERT_TRUE(c) << c.error().message;
    nopt = replace_of([&](int opt, std::vector<uint8_t> buf, uint32_t len) {
      SockoptRequest r;
      r.level = SOL_IP;
      r.optname = opt;
      r.optlen = len;
      r.data = buf;
      auto rep = c->sockopt(r);
      return rep && rep->reply.err == 0 ? rep->reply.data : std::vector<uint8_t>{};
    });
  }
  ASSERT_FALSE(kopt.empty());
  ASSERT_EQ(kopt.size(), nopt.size());

  struct Case {
    const char* what;
    std::function<void(std::vector<uint8_t>&)> mutate;
  };
  auto hdr = [](std::vector<uint8_t>& o) { return reinterpret_cast<ipt_replace*>(o.data()); };
  auto first_target = [](std::vector<uint8_t>& o) {
    auto* e = reinterpret_cast<ipt_entry*>(o.data() + sizeof(ipt_replace));
    return reinterpret_cast<xt_entry_target*>(reinterpret_cast<uint8_t*>(e) + e->target_offset);
  };
  std::vector<Case> cases = {
      {"num_entries one too many", [&](auto& o) { hdr(o)->num_entries += 1; }},
      {"size not matching the entries", [&](auto& o) { hdr(o)->size -= 8; }},
      {"hook entry misaligned", [&](auto& o) { hdr(o)->hook_entry[NF_INET_LOCAL_IN] = 3; }},
      {"underflow beyond the table", [&](auto& o) { hdr(o)->underflow[NF_INET_FORWARD] = 1u << 20; }},
      {"unknown table name", [&](auto& o) { std::strcpy(hdr(o)->name, "nosuch"); }},
      {"unknown target extension", [&](auto& o) { std::strcpy(first_target(o)->u.user.name, "NOSUCHTG"); }},
      {"target revision that does not exist", [&](auto& o) { first_target(o)->u.user.revision = 9; }},
      {"num_counters absurd", [&](auto& o) { hdr(o)->num_counters = 0x7fffffff; }},
      {"valid_hooks of another table", [&](auto& o) { hdr(o)->valid_hooks |= 1u << NF_INET_PRE_ROUTING; }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto ko = kopt, no = nopt;
    c.mutate(ko);
    c.mutate(no);
    int kerr = 0;
    {
      test::EnterNetns in(k);
      if (setsockopt(raw, SOL_IP, IPT_SO_SET_REPLACE, ko.data(), ko.size()) != 0) kerr = errno;
    }
    ASSERT_NE(kerr, 0);
    test::EnterNetns in(n);
    auto cl = wire::Client::connect(d.socket());
    ASSERT_TRUE(cl);
    SockoptRequest r;
    r.set = true;
    r.level = SOL_IP;
    r.optname = IPT_SO_SET_REPLACE;
    r.optlen = no.size();
    r.data = no;
    auto rep = cl->sockopt(r);
    ASSERT_TRUE(rep) << rep.error().message;
    EXPECT_EQ(rep->reply.err, kerr) << strerror(rep->reply.err) << " vs kernel " << strerror(kerr);
  }
  close(raw);
  // The daemon still runs, and what is in force did not change.
  EXPECT_EQ(d.pid(), pid);
  EXPECT_EQ(kill(pid, 0), 0);
  EXPECT_EQ(n.run_ok(d.shim() + "iptables-legacy-save -c"), rules_before);
}

TEST(IptablesStrict, RefusalNamesTheRuleAndTheReason) {
  NFJIT_REQUIRE_ROOT();
  Netns n("iptstrict");
  Nfjitd d(n, "--strict");
  d.start();
  n.run_ok(d.shim() + "iptables-legacy -A INPUT -p tcp --dport 22 -j ACCEPT");
  std::string out;
  int rc = n.run(d.shim() + "iptables-legacy -A OUTPUT -m owner --uid-owner 0 -j DROP 2>&1", &out);
  EXPECT_NE(rc, 0);
  // What the user sees: nfjit's reason on stderr (the rule in -S form and why), then iptables' strerror.
  // (nfjit prints extensions it does not decode by name only: "-m owner", not "--uid-owner 0".)
  EXPECT_NE(out.find("nfjit: nfjit --strict refuses table filter: -A OUTPUT -m owner -j DROP: match owner "
                     "(revision 1): socket owner match is not lowered"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("iptables: Operation not supported."), std::string::npos) << out;
  // The rules in force did not change, nothing went to the kernel, and status tells the story.
  EXPECT_EQ(n.run_ok(d.shim() + "iptables-legacy -S"), "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"
                                                       "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n");
  EXPECT_EQ(tables_with_rules(n.run_ok("iptables-legacy-save")), std::vector<std::string>{});
  std::string st = d.status();
  EXPECT_NE(st.find("ip filter: BPF at"), std::string::npos) << st;
  EXPECT_NE(st.find("last refusal: nfjit --strict refused table filter (ip): -A OUTPUT -m owner"), std::string::npos)
      << st;
  EXPECT_NE(d.log().find("--strict refuses table filter"), std::string::npos) << d.log();
}

}  // namespace
}  // namespace nfjit::e2e
