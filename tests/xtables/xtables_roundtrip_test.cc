// Real rulesets loaded into the kernel with iptables-legacy-restore: the blob the kernel holds is
// accepted by nfjit, lowered to the expected IR, and read back through GET_INFO/GET_ENTRIES with the
// very bytes the kernel gives.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "frontend/xtables/extension_check.h"
#include "frontend/xtables/lower.h"
#include "frontend/xtables/service.h"
#include "frontend/xtables/tables.h"
#include "kernel_tables.h"
#include "netns.h"
#include "privileged.h"
#include "recording_sink.h"

namespace nfjit::xt {
namespace {

using namespace nfjit::xt::test;

// Loads `file` with the -restore binary in a fresh namespace and captures `table`.
KernelTable load_in_kernel(const FamilyAbi& abi, const std::string& file, const std::string& table) {
  nfjit::test::Netns k("xtrt");
  std::string bin = abi.family == ir::Family::Ipv6 ? "ip6tables-legacy-restore" : "iptables-legacy-restore";
  k.run_ok(bin + " < " + data_path(file));
  nfjit::test::EnterNetns in(k);
  return capture(abi, table);
}

struct Loaded {
  Table table;
  Lowered lowered;
};

Loaded parse_and_lower(const FamilyAbi& abi, const KernelTable& kt) {
  auto opt = replace_option(kt, 1);
  auto hdr = parse_replace_header(opt);
  EXPECT_TRUE(hdr.ok());
  auto t = validate_structure(abi, *hdr, kt.blob());
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  auto ext = check_extensions(*t);
  EXPECT_TRUE(ext.ok() && !ext->unknown);
  Loaded l{std::move(*t), {}};
  l.lowered = lower_table(l.table, find_table_spec(l.table.name)->priority);
  return l;
}

struct Case {
  bool v6;
  const char* file;
};

class Roundtrip : public ::testing::TestWithParam<Case> {};

TEST_P(Roundtrip, ServiceAnswersWithTheKernelsBytes) {
  NFJIT_REQUIRE_ROOT();
  const FamilyAbi& abi = GetParam().v6 ? abi_ipv6() : abi_ipv4();
  KernelTable kt = load_in_kernel(abi, GetParam().file, "filter");
  Loaded l = parse_and_lower(abi, kt);
  ASSERT_TRUE(l.lowered.ok()) << l.lowered.refusals.front().rule << ": " << l.lowered.refusals.front().reason;

  nfjit::test::Netns n("xtrtn");
  nfjit::test::EnterNetns in(n);
  RecordingSink sink;
  KernelXtables kernel;
  XtablesService svc(sink, kernel);
  auto boot = svc.handle(get_info_request(abi, "filter"));
  ASSERT_EQ(boot.err, 0);
  uint32_t boot_entries = reinterpret_cast<const ipt_getinfo*>(boot.data.data())->num_entries;
  auto rep = svc.handle(set_request(abi, IPT_SO_SET_REPLACE, replace_option(kt, boot_entries)));
  ASSERT_EQ(rep.err, 0) << svc.last_message();
  EXPECT_EQ(rep.old_counters.size(), boot_entries * sizeof(xt_counters));  // the old counters, for the shim
  EXPECT_EQ((sink.installed[{abi.family, "filter"}]), l.lowered.table);

  EXPECT_EQ(svc.handle(get_info_request(abi, "filter")).data, kt.info);
  auto entries = svc.handle(get_entries_request(abi, "filter", kt.gi.size));
  ASSERT_EQ(entries.err, 0);
  zero_counters(abi, kt.entries);
  EXPECT_EQ(entries.data, kt.entries);
}

INSTANTIATE_TEST_SUITE_P(Corpus, Roundtrip,
                         ::testing::Values(Case{false, "small_filter.rules"}, Case{false, "ipt_synology_nas.rules"},
                                           Case{true, "ip6t_synology_nas.rules"},
                                           Case{false, "ipt_fail2ban_ssh_puppet_fixture.rules"}),
                         [](const auto& i) {
                           std::string s = i.param.file;
                           return s.substr(0, s.find('.'));
                         });

TEST(Lowering, SmallFilterGivesTheExpectedIr) {
  NFJIT_REQUIRE_ROOT();
  KernelTable kt = load_in_kernel(abi_ipv4(), "small_filter.rules", "filter");
  Loaded l = parse_and_lower(abi_ipv4(), kt);
  ASSERT_TRUE(l.lowered.ok());
  const ir::Table& t = l.lowered.table;
  EXPECT_EQ(t.family, ir::Family::Ipv4);
  ASSERT_EQ(t.chains.size(), 4u);
  const ir::Chain* input = t.find_chain("INPUT");
  ASSERT_TRUE(input && input->base);
  EXPECT_EQ(input->base->hook, ir::Hook::Input);
  EXPECT_EQ(input->base->priority, 0);
  EXPECT_EQ(input->base->policy, ir::Policy::Drop);
  ASSERT_EQ(input->rules.size(), 9u);

  // -i lo -j ACCEPT
  EXPECT_EQ(input->rules[0].matches, (std::vector<ir::Match>{{ir::IfaceMatch{false, "lo", false}, false}}));
  EXPECT_EQ(input->rules[0].action.kind, ir::ActionKind::Accept);
  // -s 198.18.0.0/24 -p tcp --dport 22
  const ir::Rule& ssh = input->rules[1];
  EXPECT_EQ(ssh.origin, "-A INPUT -s 198.18.0.0/24 -p tcp -m tcp --dport 22 -j ACCEPT");
  ASSERT_EQ(ssh.matches.size(), 3u);
  auto& a = std::get<ir::AddrMatch>(ssh.matches[0].m);
  EXPECT_EQ(a.field, ir::Field::Saddr);
  EXPECT_EQ(a.value[0], 198);
  EXPECT_EQ(a.mask[2], 0xff);
  EXPECT_EQ(a.mask[3], 0);
  EXPECT_EQ(std::get<ir::IntMatch>(ssh.matches[1].m).ranges, (std::vector<ir::Range>{{6, 6}}));
  EXPECT_EQ(std::get<ir::IntMatch>(ssh.matches[2].m).field, ir::Field::Dport);
  EXPECT_EQ(std::get<ir::IntMatch>(ssh.matches[2].m).ranges, (std::vector<ir::Range>{{22, 22}}));
  // --syn + multiport, jump to SSH
  const ir::Rule& syn = input->rules[2];
  EXPECT_EQ(syn.action.kind, ir::ActionKind::Jump);
  EXPECT_EQ(syn.action.target, "SSH");
  auto& flags = std::get<ir::IntMatch>(syn.matches[2].m);
  EXPECT_EQ(flags.field, ir::Field::TcpFlags);
  EXPECT_EQ(flags.mask, 0x17u);
  EXPECT_EQ(flags.ranges, (std::vector<ir::Range>{{2, 2}}));
  auto& mp = std::get<ir::IntMatch>(syn.matches[3].m);
  EXPECT_EQ(mp.ranges, (std::vector<ir::Range>{{80, 80}, {443, 443}, {8000, 8080}}));
  // ctstate RELATED,ESTABLISHED
  auto& ct = std::get<ir::IntMatch>(input->rules[3].matches[0].m);
  EXPECT_EQ(ct.op, ir::IntOp::AnyBit);
  EXPECT_EQ(ct.mask, ir::kCtRelated | ir::kCtEstablished);
  // limit 5/sec: one packet per 200 ms, burst 5
  auto& lim = std::get<ir::LimitMatch>(input->rules[4].matches[2].m);
  EXPECT_EQ(lim.per_ns, 200'000'000u);
  EXPECT_EQ(lim.burst, 5u);
  // LOG
  EXPECT_EQ(input->rules[6].action.kind, ir::ActionKind::Log);
  EXPECT_EQ(input->rules[6].action.log.prefix, "short: ");
  EXPECT_TRUE(input->rules[6].matches[1].invert);  // ! --sport 53
  // REJECT types
  EXPECT_EQ(input->rules[7].action.reject, ir::RejectType::IcmpHostProhibited);
  EXPECT_EQ(input->rules[8].action.reject, ir::RejectType::TcpReset);
  // FORWARD: -o eth+ ... -g SSH
  const ir::Chain* fwd = t.find_chain("FORWARD");
  ASSERT_EQ(fwd->rules.size(), 1u);
  EXPECT_EQ(fwd->rules[0].matches[0], (ir::Match{ir::IfaceMatch{true, "eth", true}, false}));
  EXPECT_EQ(fwd->rules[0].action.kind, ir::ActionKind::Goto);
  EXPECT_TRUE(fwd->rules[0].matches[1].invert);  // connmark ! --mark
  // SSH user chain
  const ir::Chain* u = t.find_chain("SSH");
  ASSERT_TRUE(u && !u->base);
  EXPECT_EQ(u->rules[1].action.kind, ir::ActionKind::SetMark);
  EXPECT_EQ(u->rules[1].action.mark_value, 0x10u);
  EXPECT_EQ(u->rules[1].action.mark_mask, 0xffu);

  // Counter slots: policies and the user chain's RETURN tail are slot -1, heads count nothing.
  const auto& s = l.lowered.slots;
  ASSERT_EQ(s.size(), l.table.entries.size());
  EXPECT_EQ(s[0]->chain, "INPUT");
  EXPECT_EQ(s[0]->rule, 0);
  EXPECT_EQ(s[9]->rule, -1);              // INPUT policy
  EXPECT_FALSE(s[s.size() - 1].has_value());  // final ERROR
}

}  // namespace
}  // namespace nfjit::xt
