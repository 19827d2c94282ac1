// A fresh table as nfjit serves it is byte for byte the kernel's fresh table (GET_INFO, GET_ENTRIES).
#include <gtest/gtest.h>

#include "frontend/xtables/service.h"
#include "kernel_tables.h"
#include "netns.h"
#include "privileged.h"
#include "recording_sink.h"

namespace nfjit::xt {
namespace {

using namespace nfjit::xt::test;

struct Case {
  bool v6;
  const char* table;
};

class Bootstrap : public ::testing::TestWithParam<Case> {};

TEST_P(Bootstrap, GetInfoAndEntriesEqualTheKernels) {
  NFJIT_REQUIRE_ROOT();
  const FamilyAbi& abi = GetParam().v6 ? abi_ipv6() : abi_ipv4();
  std::string table = GetParam().table;
  nfjit::test::Netns k("xtboot");
  KernelTable kt;
  {
    nfjit::test::EnterNetns in(k);
    kt = capture(abi, table);
  }
  nfjit::test::Netns n("xtbootn");
  nfjit::test::EnterNetns in(n);
  RecordingSink sink;
  KernelXtables kernel;
  XtablesService svc(sink, kernel);
  auto info = svc.handle(get_info_request(abi, table));
  ASSERT_EQ(info.err, 0) << svc.last_message();
  EXPECT_EQ(info.data, kt.info);
  auto entries = svc.handle(get_entries_request(abi, table, kt.gi.size));
  ASSERT_EQ(entries.err, 0) << svc.last_message();
  zero_counters(abi, kt.entries);  // the kernel's policies may have counted a stray packet
  EXPECT_EQ(entries.data, kt.entries);
  // The table now runs as BPF: the bootstrap was installed, with one base chain per built-in chain.
  ASSERT_EQ(sink.installed.count({abi.family, table}), 1u);
  EXPECT_EQ((sink.installed[{abi.family, table}].chains.size()), static_cast<size_t>(__builtin_popcount(kt.gi.valid_hooks)));
  // ... and the kernel's own ip_tables holds nothing in this namespace.
  std::string names;
  nfjit::test::sh("cat /proc/net/ip" + std::string(GetParam().v6 ? "6" : "") + "_tables_names", &names);
  EXPECT_EQ(names.find(table), std::string::npos) << names;
}

INSTANTIATE_TEST_SUITE_P(AllTables, Bootstrap,
                         ::testing::Values(Case{false, "filter"}, Case{false, "mangle"}, Case{false, "raw"},
                                           Case{false, "security"}, Case{true, "filter"}, Case{true, "mangle"},
                                           Case{true, "raw"}, Case{true, "security"}),
                         [](const auto& i) { return std::string(i.param.v6 ? "ip6_" : "ip_") + i.param.table; });

TEST(Bootstrap, NatIsTheKernels) {
  NFJIT_REQUIRE_ROOT();
  nfjit::test::Netns n("xtnat");
  nfjit::test::EnterNetns in(n);
  RecordingSink sink;
  KernelXtables kernel;
  XtablesService svc(sink, kernel);
  auto info = svc.handle(get_info_request(abi_ipv4(), "nat"));
  ASSERT_EQ(info.err, 0);
  EXPECT_EQ(info.data, capture(abi_ipv4(), "nat").info);
  EXPECT_EQ(sink.installs, 0);
  // Unknown table names get the kernel's ENOENT.
  EXPECT_EQ(svc.handle(get_info_request(abi_ipv4(), "nosuchtable")).err, ENOENT);
}

}  // namespace
}  // namespace nfjit::xt
