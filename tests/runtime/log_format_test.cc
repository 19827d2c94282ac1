// LOG lines formatted from crafted records, against the exact text net/netfilter/nf_log_syslog.c prints
// for the same packet (dump_mac_header, dump_ipv4_packet, dump_ipv6_packet, nf_log_dump_tcp_header,
// nf_log_dump_udp_header), including the kernel's trailing space.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "runtime/log_format.h"

namespace nfjit::runtime {
namespace {

codegen::LogRecord record(uint8_t nfproto, const std::vector<uint8_t>& hdr, const char* in, const char* out) {
  codegen::LogRecord r{};
  r.nfproto = nfproto;
  std::strncpy(r.in_name, in, sizeof r.in_name - 1);
  std::strncpy(r.out_name, out, sizeof r.out_name - 1);
  r.hdr_len = static_cast<uint32_t>(hdr.size());
  std::memcpy(r.hdr, hdr.data(), hdr.size());
  r.pkt_len = static_cast<uint32_t>(hdr.size());
  return r;
}

const std::vector<uint8_t> kMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00};

// 198.18.0.1:40000 -> 198.18.0.2:22, TCP SYN, DF, TTL 64, ID 4660, TOS 0x10 (low delay), window 64240.
std::vector<uint8_t> tcp_syn() {
  return {0x45, 0x10, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 198, 18, 0, 1, 198, 18, 0, 2,
          0x9c, 0x40, 0x00, 0x16, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0};
}

TEST(LogFormat, Ipv4TcpSynOnInput) {
  auto r = record(2, tcp_syn(), "veth0", "");
  r.mac_len = 14;
  std::memcpy(r.mac, kMac.data(), 14);
  EXPECT_EQ(format_log_line(r, ir::LogAction{"nfjit: ", 4, 0}),
            "nfjit: IN=veth0 OUT= MAC=02:00:00:00:00:02:02:00:00:00:00:01:08:00 SRC=198.18.0.1 DST=198.18.0.2 "
            "LEN=40 TOS=0x10 PREC=0x00 TTL=64 ID=4660 DF PROTO=TCP SPT=40000 DPT=22 WINDOW=64240 RES=0x00 SYN "
            "URGP=0 ");
}

TEST(LogFormat, TcpSequenceFlagAndNoMacOnOutput) {
  auto r = record(2, tcp_syn(), "", "veth0");
  r.mark = 0x2a;
  EXPECT_EQ(format_log_line(r, ir::LogAction{"", 4, 0x01}),
            "IN= OUT=veth0 SRC=198.18.0.1 DST=198.18.0.2 LEN=40 TOS=0x10 PREC=0x00 TTL=64 ID=4660 DF PROTO=TCP "
            "SPT=40000 DPT=22 SEQ=1 ACK=0 WINDOW=64240 RES=0x00 SYN URGP=0 MARK=0x2a ");
}

TEST(LogFormat, Ipv4UdpWithMacDecode) {
  std::vector<uint8_t> h = {0x45, 0xb8, 0x00, 0x1d, 0x00, 0x01, 0x00, 0x00, 0x01, 0x11, 0, 0, 198, 18, 0, 1,
                            198, 18, 0, 2, 0x13, 0x88, 0x00, 0x35, 0x00, 0x09, 0, 0, 'x'};
  auto r = record(2, h, "veth0", "");
  r.mac_len = 14;
  std::memcpy(r.mac, kMac.data(), 14);
  EXPECT_EQ(format_log_line(r, ir::LogAction{"udp ", 4, 0x20}),
            "udp IN=veth0 OUT= MACSRC=02:00:00:00:00:01 MACDST=02:00:00:00:00:02 MACPROTO=0800 SRC=198.18.0.1 "
            "DST=198.18.0.2 LEN=29 TOS=0x18 PREC=0xA0 TTL=1 ID=1 PROTO=UDP SPT=5000 DPT=53 LEN=9 ");
}

TEST(LogFormat, Ipv4IcmpEchoAndTruncatedTcp) {
  std::vector<uint8_t> icmp = {0x45, 0, 0, 28, 0, 7, 0, 0, 64, 1, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
                               8, 0, 0, 0, 0x12, 0x34, 0, 3};
  EXPECT_EQ(format_log_line(record(2, icmp, "", "veth0"), ir::LogAction{}),
            "IN= OUT=veth0 SRC=198.18.0.1 DST=198.18.0.2 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=7 PROTO=ICMP TYPE=8 "
            "CODE=0 ID=4660 SEQ=3 ");
  auto cut = tcp_syn();
  cut.resize(30);
  EXPECT_EQ(format_log_line(record(2, cut, "", ""), ir::LogAction{}),
            "IN= OUT= SRC=198.18.0.1 DST=198.18.0.2 LEN=40 TOS=0x10 PREC=0x00 TTL=64 ID=4660 DF PROTO=TCP "
            "INCOMPLETE [10 bytes] ");
}

TEST(LogFormat, Ipv6IcmpEcho) {
  std::vector<uint8_t> h = {0x60, 0x00, 0x00, 0x05, 0x00, 0x08, 58, 64,
                            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
                            128, 0, 0, 0, 0, 9, 0, 1};
  EXPECT_EQ(format_log_line(record(10, h, "", "veth0"), ir::LogAction{"v6 ", 6, 0}),
            "v6 IN= OUT=veth0 SRC=2001:0db8:0000:0000:0000:0000:0000:0001 DST=2001:0db8:0000:0000:0000:0000:0000:0002 "
            "LEN=48 TC=0 HOPLIMIT=64 FLOWLBL=5 PROTO=ICMPv6 TYPE=128 CODE=0 ID=9 SEQ=1 ");
}

}  // namespace
}  // namespace nfjit::runtime
