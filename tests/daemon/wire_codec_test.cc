#include <gtest/gtest.h>

#include <cstring>

#include "daemon/wire_codec.h"

namespace nfjit::wire {
namespace {

std::span<const uint8_t> payload_of(const std::vector<uint8_t>& frame) {
  return std::span(frame).subspan(sizeof(FrameHeader));
}

FrameHeader header_of(const std::vector<uint8_t>& frame) {
  FrameHeader h;
  std::memcpy(&h, frame.data(), sizeof(h));
  return h;
}

TEST(WireCodec, RequestRoundTrips) {
  SockoptRequest r;
  r.set = true;
  r.level = 41;
  r.optname = 64;
  r.data = {1, 2, 3, 4, 5};
  r.optlen = 5;
  auto f = encode_sockopt_request(r);
  EXPECT_TRUE(check_header(header_of(f)));
  EXPECT_EQ(header_of(f).length, f.size() - sizeof(FrameHeader));
  auto d = decode_sockopt_request(payload_of(f));
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->set);
  EXPECT_EQ(d->level, 41);
  EXPECT_EQ(d->optname, 64);
  EXPECT_EQ(d->data, r.data);
}

TEST(WireCodec, ReplyCarriesDataThenOldCounters) {
  SockoptReply r;
  r.err = 0;
  r.retval = 1;
  r.data = {9, 8};
  r.old_counters = {7, 6, 5};
  auto d = decode_sockopt_reply(payload_of(encode_sockopt_reply(r, kNotThisNamespace)));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->disposition, kNotThisNamespace);
  EXPECT_EQ(d->reply.retval, 1);
  EXPECT_EQ(d->reply.data, r.data);
  EXPECT_EQ(d->reply.old_counters, r.old_counters);
}

TEST(WireCodec, InconsistentInputIsRefused) {
  SockoptRequest r;
  r.set = true;
  r.data = {1, 2, 3};
  r.optlen = 4;  // a setsockopt carries exactly optlen bytes
  EXPECT_FALSE(decode_sockopt_request(payload_of(encode_sockopt_request(r))));
  r.set = false;
  r.optlen = 2;  // a getsockopt never carries more input than its buffer
  EXPECT_FALSE(decode_sockopt_request(payload_of(encode_sockopt_request(r))));
  EXPECT_FALSE(check_header(FrameHeader{kMagic, kVersion, kSockoptRequest, kMaxFrame + 1}));
  EXPECT_FALSE(check_header(FrameHeader{kMagic, kVersion, 77, 0}));
  EXPECT_FALSE(check_header(FrameHeader{0x12345678, kVersion, kStatusRequest, 0}));
  SockoptReplyFixed bad{};
  bad.data_len = 100;
  std::vector<uint8_t> p(reinterpret_cast<uint8_t*>(&bad), reinterpret_cast<uint8_t*>(&bad) + sizeof(bad));
  EXPECT_FALSE(decode_sockopt_reply(p));
}

TEST(WireCodec, RoutesExactlyTheXtablesOptions) {
  for (int o : {64, 65}) EXPECT_TRUE(routes_to_daemon(true, 0, o) && routes_to_daemon(true, 41, o));
  for (int o : {64, 65, 66, 67}) EXPECT_TRUE(routes_to_daemon(false, 0, o));
  for (int o : {64, 65, 68, 69}) EXPECT_TRUE(routes_to_daemon(false, 41, o));
  EXPECT_FALSE(routes_to_daemon(false, 41, 66));  // not an ip6tables option
  EXPECT_FALSE(routes_to_daemon(false, 41, 80));  // IP6T_SO_ORIGINAL_DST: conntrack's, not ours
  EXPECT_FALSE(routes_to_daemon(false, 0, 80));   // SO_ORIGINAL_DST
  EXPECT_FALSE(routes_to_daemon(true, 0, 66));
  EXPECT_FALSE(routes_to_daemon(true, 1, 64));    // SOL_SOCKET
}

}  // namespace
}  // namespace nfjit::wire
