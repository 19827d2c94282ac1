// The sockopt service as iptables uses it: live counters in GET_ENTRIES, old counters returned by
// SET_REPLACE, SET_ADD_COUNTERS on top, revisions from the kernel, passthrough and --strict.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frontend/xtables/service.h"
#include "kernel_tables.h"
#include "netns.h"
#include "privileged.h"
#include "recording_sink.h"

namespace nfjit::xt {
namespace {

using namespace nfjit::xt::test;

KernelTable load_in_kernel(const std::string& file) {
  nfjit::test::Netns k("xtsvc");
  k.run_ok("iptables-legacy-restore < " + data_path(file));
  nfjit::test::EnterNetns in(k);
  return capture(abi_ipv4(), "filter");
}

xt_counters counter_of(const FamilyAbi& abi, const std::vector<uint8_t>& answer, size_t index) {
  size_t pos = sizeof(ipt_get_entries);
  for (size_t i = 0; i < index; ++i) pos += load<uint16_t>(answer, pos + abi.off_next_offset);
  return load<xt_counters>(answer, pos + abi.off_counters);
}

TEST(Service, CountersAreLiveAddedAndReturned) {
  NFJIT_REQUIRE_ROOT();
  KernelTable kt = load_in_kernel("small_filter.rules");
  nfjit::test::Netns n("xtsvcn");
  nfjit::test::EnterNetns in(n);
  RecordingSink sink;
  KernelXtables kernel;
  XtablesService svc(sink, kernel);
  ASSERT_EQ(svc.handle(get_info_request(abi_ipv4(), "filter")).err, 0);
  ASSERT_EQ(svc.handle(set_request(abi_ipv4(), IPT_SO_SET_REPLACE, replace_option(kt, 4))).err, 0);

  // The program counted 3 packets on INPUT rule 1 and 7 on the INPUT policy.
  sink.set_counter(ir::Family::Ipv4, "filter", "INPUT", 1, 3, 180);
  sink.set_counter(ir::Family::Ipv4, "filter", "INPUT", -1, 7, 700);
  auto e = svc.handle(get_entries_request(abi_ipv4(), "filter", kt.gi.size));
  ASSERT_EQ(e.err, 0);
  EXPECT_EQ(counter_of(abi_ipv4(), e.data, 1).pcnt, 3u);
  EXPECT_EQ(counter_of(abi_ipv4(), e.data, 1).bcnt, 180u);
  EXPECT_EQ(counter_of(abi_ipv4(), e.data, 9).pcnt, 7u);  // INPUT policy entry
  EXPECT_EQ(counter_of(abi_ipv4(), e.data, 0).pcnt, 0u);

  // iptables -c / restore -c: SET_ADD_COUNTERS adds to what the program counts.
  std::vector<uint8_t> add(sizeof(xt_counters_info) + kt.gi.num_entries * sizeof(xt_counters), 0);
  auto* ci = reinterpret_cast<xt_counters_info*>(add.data());
  std::strcpy(ci->name, "filter");
  ci->num_counters = kt.gi.num_entries;
  reinterpret_cast<xt_counters*>(add.data() + sizeof(xt_counters_info))[1] = {10, 1000};
  ASSERT_EQ(svc.handle(set_request(abi_ipv4(), IPT_SO_SET_ADD_COUNTERS, add)).err, 0);
  e = svc.handle(get_entries_request(abi_ipv4(), "filter", kt.gi.size));
  EXPECT_EQ(counter_of(abi_ipv4(), e.data, 1).pcnt, 13u);
  EXPECT_EQ(counter_of(abi_ipv4(), e.data, 1).bcnt, 1180u);
  // A wrong count is the kernel's EINVAL.
  add.resize(add.size() - sizeof(xt_counters));
  EXPECT_EQ(svc.handle(set_request(abi_ipv4(), IPT_SO_SET_ADD_COUNTERS, add)).err, EINVAL);

  // The next replace (iptables -A ...) gets the old counters back, in entry order.
  auto rep = svc.handle(set_request(abi_ipv4(), IPT_SO_SET_REPLACE, replace_option(kt, kt.gi.num_entries)));
  ASSERT_EQ(rep.err, 0);
  ASSERT_EQ(rep.old_counters.size(), kt.gi.num_entries * sizeof(xt_counters));
  auto* old = reinterpret_cast<const xt_counters*>(rep.old_counters.data());
  EXPECT_EQ(old[1].pcnt, 13u);
  EXPECT_EQ(old[9].pcnt, 7u);
  // ... and the new table starts from zero until the client adds them back.
  e = svc.handle(get_entries_request(abi_ipv4(), "filter", kt.gi.size));
  EXPECT_EQ(counter_of(abi_ipv4(), e.data, 1).pcnt, 0u);
  // GET_ENTRIES with a stale size is EAGAIN, like the kernel.
  EXPECT_EQ(svc.handle(get_entries_request(abi_ipv4(), "filter", kt.gi.size - 8)).err, EAGAIN);
}

TEST(Service, RevisionsAreTheKernels) {
  NFJIT_REQUIRE_ROOT();
  nfjit::test::Netns n("xtrev");
  nfjit::test::EnterNetns in(n);
  RecordingSink sink;
  KernelXtables kernel;
  XtablesService svc(sink, kernel);
  auto ask = [&](int opt, const char* name, uint8_t rev) {
    SockoptRequest r;
    r.level = SOL_IP;
    r.optname = opt;
    r.optlen = sizeof(xt_get_revision);
    r.data.assign(sizeof(xt_get_revision), 0);
    std::strcpy(reinterpret_cast<char*>(r.data.data()), name);
    r.data[XT_EXTENSION_MAXNAMELEN] = rev;
    return svc.handle(r);
  };
  auto ct = ask(IPT_SO_GET_REVISION_MATCH, "conntrack", 3);
  EXPECT_EQ(ct.err, 0);
  // The syscall's own return value, whatever this kernel makes of the best revision.
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  xt_get_revision rev{};
  std::strcpy(rev.name, "conntrack");
  rev.revision = 3;
  socklen_t len = sizeof rev;
  EXPECT_EQ(ct.retval, getsockopt(fd, SOL_IP, IPT_SO_GET_REVISION_MATCH, &rev, &len));
  close(fd);
  EXPECT_EQ(ask(IPT_SO_GET_REVISION_MATCH, "conntrack", 9).err, EPROTONOSUPPORT);
  EXPECT_EQ(ask(IPT_SO_GET_REVISION_TARGET, "NOSUCHTARGET", 0).err, ENOENT);
}

TEST(Service, UnlowerableTableGoesToTheKernelAndBack) {
  NFJIT_REQUIRE_ROOT();
  KernelTable addrtype = load_in_kernel("small_addrtype.rules");
  KernelTable plain = load_in_kernel("small_filter.rules");
  nfjit::test::Netns n("xtpass");
  nfjit::test::EnterNetns in(n);
  RecordingSink sink;
  KernelXtables kernel;
  XtablesService svc(sink, kernel);
  ASSERT_EQ(svc.handle(get_info_request(abi_ipv4(), "filter")).err, 0);
  auto rep = svc.handle(set_request(abi_ipv4(), IPT_SO_SET_REPLACE, replace_option(addrtype, 4)));
  ASSERT_EQ(rep.err, 0) << svc.last_message();
  EXPECT_EQ(sink.removes, 1);
  auto st = svc.status();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_FALSE(st[0].bpf);
  EXPECT_NE(st[0].why.find("addrtype"), std::string::npos) << st[0].why;
  EXPECT_NE(st[0].why.find("-A INPUT -m addrtype"), std::string::npos) << st[0].why;
  // Listings now come from the kernel's table, which holds exactly these rules.
  auto info = svc.handle(get_info_request(abi_ipv4(), "filter"));
  EXPECT_EQ(info.data, addrtype.info);
  auto e = svc.handle(get_entries_request(abi_ipv4(), "filter", addrtype.gi.size));
  zero_counters(abi_ipv4(), e.data);
  zero_counters(abi_ipv4(), addrtype.entries);
  EXPECT_EQ(e.data, addrtype.entries);

  // Replacing it with a lowerable table brings it back to BPF and empties the kernel's table.
  rep = svc.handle(set_request(abi_ipv4(), IPT_SO_SET_REPLACE, replace_option(plain, addrtype.gi.num_entries)));
  ASSERT_EQ(rep.err, 0) << svc.last_message();
  EXPECT_EQ(rep.old_counters.size(), addrtype.gi.num_entries * sizeof(xt_counters));
  EXPECT_TRUE(svc.status()[0].bpf);
  EXPECT_EQ(capture(abi_ipv4(), "filter").gi.num_entries, 4u);  // the kernel's bootstrap
  EXPECT_EQ(svc.handle(get_info_request(abi_ipv4(), "filter")).data, plain.info);
}

TEST(Service, StrictRefusesWithTheRuleAndReason) {
  NFJIT_REQUIRE_ROOT();
  KernelTable addrtype = load_in_kernel("small_addrtype.rules");
  nfjit::test::Netns n("xtstrict");
  nfjit::test::EnterNetns in(n);
  RecordingSink sink;
  KernelXtables kernel;
  XtablesService svc(sink, kernel, ServiceOptions{.strict = true});
  auto before = svc.handle(get_info_request(abi_ipv4(), "filter"));
  auto rep = svc.handle(set_request(abi_ipv4(), IPT_SO_SET_REPLACE, replace_option(addrtype, 4)));
  EXPECT_EQ(rep.err, EOPNOTSUPP);
  EXPECT_NE(svc.last_message().find("-A INPUT -m addrtype"), std::string::npos) << svc.last_message();
  EXPECT_EQ(svc.handle(get_info_request(abi_ipv4(), "filter")).data, before.data);
  EXPECT_TRUE(svc.status()[0].bpf);
}

TEST(Service, SinkFailureFallsBackToTheKernel) {
  NFJIT_REQUIRE_ROOT();
  KernelTable plain = load_in_kernel("small_filter.rules");
  nfjit::test::Netns n("xtsinkfail");
  nfjit::test::EnterNetns in(n);
  RecordingSink sink;
  KernelXtables kernel;
  XtablesService svc(sink, kernel);
  ASSERT_EQ(svc.handle(get_info_request(abi_ipv4(), "filter")).err, 0);
  sink.fail_next = true;
  ASSERT_EQ(svc.handle(set_request(abi_ipv4(), IPT_SO_SET_REPLACE, replace_option(plain, 4))).err, 0);
  EXPECT_FALSE(svc.status()[0].bpf);
  EXPECT_EQ(capture(abi_ipv4(), "filter").info, plain.info);  // the kernel holds the rules instead
}

}  // namespace
}  // namespace nfjit::xt
