// Malformed SET_REPLACE blobs: nfjit answers with the errno the real kernel gives for the same bytes
// (checked by a real setsockopt in a fresh namespace), and the rules in force stay as they were.
#include <gtest/gtest.h>

#include <functional>

#include "frontend/xtables/service.h"
#include "kernel_tables.h"
#include "netns.h"
#include "privileged.h"
#include "recording_sink.h"

namespace nfjit::xt {
namespace {

using namespace nfjit::xt::test;

// The base table's entries (see chains_for_mutation.rules).
enum : size_t { kInputRule = 0, kInputPolicy = 1, kOutputRule = 3, kATail = 7, kARule = 6, kBHead = 8, kBRule = 9 };

struct Blob {
  std::vector<uint8_t> opt;
  Table parsed;  // offsets of the unmodified table
  ipt_replace* hdr() { return reinterpret_cast<ipt_replace*>(opt.data()); }
  uint8_t* entry(size_t i) { return opt.data() + sizeof(ipt_replace) + parsed.entries[i].offset; }
  uint32_t offset(size_t i) const { return parsed.entries[i].offset; }
  template <typename T>
  void put(size_t i, size_t off, T v) { std::memcpy(entry(i) + off, &v, sizeof v); }
  // The first match (or the target when there is none) of entry i.
  uint8_t* ext(size_t i) { return entry(i) + sizeof(ipt_entry); }
};

Blob base() {
  static Blob b = [] {
    nfjit::test::Netns k("xtmalbase");
    k.run_ok("iptables-legacy-restore < " + data_path("chains_for_mutation.rules"));
    nfjit::test::EnterNetns in(k);
    KernelTable kt = capture(abi_ipv4(), "filter");
    Blob b;
    b.opt = replace_option(kt, 4);  // a fresh filter table has 4 entries
    auto h = parse_replace_header(b.opt);
    b.parsed = std::move(validate_structure(abi_ipv4(), *h, kt.blob()).value());
    return b;
  }();
  return b;
}

constexpr size_t kVerdict = sizeof(ipt_entry) + sizeof(xt_entry_target);  // of a match-less standard rule

struct Case {
  const char* name;
  std::function<void(Blob&)> mutate;
  int expect;  // the errno the kernel documents for it (the test also asks the kernel itself)
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"valid", [](Blob&) {}, 0},
      {"truncated", [](Blob& b) { b.opt.resize(b.opt.size() - 8); }, EINVAL},
      {"header_only", [](Blob& b) { b.opt.resize(sizeof(ipt_replace)); }, EINVAL},
      {"next_offset_past_entry", [](Blob& b) { b.put<uint16_t>(2, offsetof(ipt_entry, next_offset), 160); }, EINVAL},
      {"next_offset_too_small", [](Blob& b) { b.put<uint16_t>(kInputPolicy, offsetof(ipt_entry, next_offset), 100); }, EINVAL},
      {"target_offset_inside_entry", [](Blob& b) { b.put<uint16_t>(kInputPolicy, offsetof(ipt_entry, target_offset), 8); }, EINVAL},
      {"unknown_ip_flags", [](Blob& b) { b.entry(kInputRule)[offsetof(ipt_ip, flags)] = 0x80; }, EINVAL},
      {"hook_entry_not_at_entry", [](Blob& b) { b.hdr()->hook_entry[NF_INET_LOCAL_IN] += 4; }, EINVAL},
      {"underflow_conditional", [](Blob& b) { b.hdr()->underflow[NF_INET_LOCAL_IN] = b.offset(kInputRule); }, EINVAL},
      {"underflow_is_user_chain_return", [](Blob& b) { b.hdr()->underflow[NF_INET_LOCAL_OUT] = b.offset(kATail); }, EINVAL},
      {"jump_into_middle_of_entry", [](Blob& b) { b.put<int32_t>(kARule, kVerdict, b.offset(kBRule) + 8); }, ELOOP},
      {"jump_past_table", [](Blob& b) { b.put<int32_t>(kARule, kVerdict, 1 << 20); }, ELOOP},
      {"verdict_zero", [](Blob& b) { b.put<int32_t>(kARule, kVerdict, 0); }, EINVAL},
      {"verdict_unknown_negative", [](Blob& b) { b.put<int32_t>(kARule, kVerdict, -9); }, EINVAL},
      {"loop_between_user_chains", [](Blob& b) { b.put<int32_t>(kBRule, kVerdict, b.offset(kARule)); }, ELOOP},
      {"unknown_match", [](Blob& b) { std::memcpy(b.ext(kInputRule) + 2, "nosuchmatch", 12); }, ENOENT},
      {"unknown_match_revision", [](Blob& b) { b.ext(kInputRule)[2 + XT_EXTENSION_MAXNAMELEN] = 7; }, ENOENT},
      {"unknown_target", [](Blob& b) { std::memcpy(b.entry(kOutputRule) + b.parsed.entries[kOutputRule].target_offset + 2, "NOSUCH", 7); }, ENOENT},
      {"match_name_unterminated", [](Blob& b) { std::memset(b.ext(kInputRule) + 2, 'x', XT_EXTENSION_MAXNAMELEN); }, EINVAL},
      {"match_size_overlaps_target", [](Blob& b) { b.put<uint16_t>(kInputRule, sizeof(ipt_entry), 56); }, EINVAL},
      {"match_size_wrong_for_tcp", [](Blob& b) {
         // Shrink the tcp match by 8 and grow nothing else: the target moves, offsets stay consistent.
         uint8_t* e = b.entry(kInputRule);
         uint16_t toff, msize;
         std::memcpy(&toff, e + offsetof(ipt_entry, target_offset), 2);
         std::memcpy(&msize, e + sizeof(ipt_entry), 2);
         msize -= 8;
         std::memcpy(e + sizeof(ipt_entry), &msize, 2);
         std::memmove(e + toff - 8, e + toff, 40);
         std::memset(e + toff + 32, 0, 8);
         toff -= 8;
         std::memcpy(e + offsetof(ipt_entry, target_offset), &toff, 2);
       }, EINVAL},
      {"tcp_match_on_udp_rule", [](Blob& b) { b.put<uint16_t>(kInputRule, offsetof(ipt_ip, proto), IPPROTO_UDP); }, EINVAL},
      {"tcp_match_inverted_proto", [](Blob& b) { b.entry(kInputRule)[offsetof(ipt_ip, invflags)] |= XT_INV_PROTO; }, EINVAL},
      {"tcp_bad_invflags", [](Blob& b) { b.ext(kInputRule)[sizeof(xt_entry_match) + 11] = 0x40; }, EINVAL},
      {"limit_burst_zero", [](Blob& b) {
         b.put<uint32_t>(kOutputRule, sizeof(ipt_entry) + sizeof(xt_entry_match) + 4, 0);
       }, ERANGE},
      {"error_name_unterminated", [](Blob& b) {
         std::memset(b.entry(kBHead) + sizeof(ipt_entry) + sizeof(xt_entry_target), 'x', XT_FUNCTION_MAXNAMELEN);
       }, EINVAL},
      {"size_smaller", [](Blob& b) { b.hdr()->size -= 8; }, EINVAL},
      {"size_larger", [](Blob& b) { b.hdr()->size += 8; b.opt.resize(b.opt.size() + 8); }, EINVAL},
      {"num_entries_mismatch", [](Blob& b) { b.hdr()->num_entries += 1; }, EINVAL},
      {"num_counters_zero", [](Blob& b) { b.hdr()->num_counters = 0; }, EINVAL},
      {"num_counters_stale", [](Blob& b) { b.hdr()->num_counters = 7; }, EAGAIN},
      {"valid_hooks_differ", [](Blob& b) { b.hdr()->valid_hooks |= 1; }, EINVAL},
      {"unknown_table", [](Blob& b) { std::strcpy(b.hdr()->name, "nosuchtable"); }, ENOENT},
  };
  return c;
}

class Malformed : public ::testing::TestWithParam<size_t> {};

TEST_P(Malformed, SameErrnoAsTheKernelAndNothingChanges) {
  NFJIT_REQUIRE_ROOT();
  const Case& c = cases()[GetParam()];
  Blob b = base();
  c.mutate(b);

  int kernel_err;
  {
    nfjit::test::Netns k("xtmalk");
    nfjit::test::EnterNetns in(k);
    kernel_err = kernel_replace_errno(abi_ipv4(), b.opt);
  }
  EXPECT_EQ(kernel_err, c.expect) << "the kernel itself: " << strerror(kernel_err);

  nfjit::test::Netns n("xtmaln");
  nfjit::test::EnterNetns in(n);
  RecordingSink sink;
  KernelXtables kernel;
  XtablesService svc(sink, kernel);
  auto before = svc.handle(get_info_request(abi_ipv4(), "filter"));
  ASSERT_EQ(before.err, 0);
  auto rep = svc.handle(set_request(abi_ipv4(), IPT_SO_SET_REPLACE, b.opt));
  EXPECT_EQ(rep.err, kernel_err) << svc.last_message();
  if (kernel_err != 0) {
    EXPECT_EQ(svc.handle(get_info_request(abi_ipv4(), "filter")).data, before.data);
    EXPECT_EQ(sink.installs, 1);  // the bootstrap only
    for (const auto& s : svc.status()) EXPECT_TRUE(s.bpf) << s.table << ": " << s.why;
  } else {
    EXPECT_EQ(sink.installs, 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Blobs, Malformed, ::testing::Range<size_t>(0, cases().size()),
                         [](const auto& i) { return std::string(cases()[i.param].name); });

}  // namespace
}  // namespace nfjit::xt
