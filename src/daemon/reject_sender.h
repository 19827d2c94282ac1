// Sends the replies of REJECT rules that run as BPF: each ring record (codegen/reject_record.h) becomes
// the RST or ICMP error runtime::build_reject_reply() decides, written to a raw socket of nfjitd's own
// network namespace, so it leaves through the OUTPUT and POSTROUTING hooks as the kernel's
// ip_local_out would send it. Runs on the LOG pump's thread. docs/reject.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "runtime/reject_ratelimit.h"
#include "runtime/reject_reply.h"

namespace nfjit::daemon {

class RejectSender : public runtime::RejectEnv {
 public:
  RejectSender();
  ~RejectSender() override;
  RejectSender(const RejectSender&) = delete;
  RejectSender& operator=(const RejectSender&) = delete;

  void handle(const uint8_t* record, size_t size);

  // RejectEnv: the namespace, asked through rtnetlink, getifaddrs and /proc/sys/net.
  runtime::RouteFacts route4(const uint8_t dst[4], uint32_t mark) override;
  runtime::RouteFacts route6(const uint8_t dst[16], uint32_t mark) override;
  bool local6(const uint8_t addr[16]) override;
  bool select_addr4(uint32_t ifindex, const uint8_t dst[4], uint8_t out[4]) override;
  int sysctl(const std::string& name, int dflt) override;
  std::string sysctl_text(const std::string& name, const std::string& dflt) override;

  uint64_t sent() const { return sent_; }

 private:
  runtime::RouteFacts route(int family, const uint8_t* dst, uint32_t mark, bool fib_match);
  bool send(const runtime::RejectReply& r);
  int socket_for(const runtime::RejectReply& r);
  void set_mark(int fd, uint32_t mark);

  runtime::IcmpRateLimiter limits_;
  int rtnl_ = -1;
  uint32_t rtnl_seq_ = 0;
  int raw4_rst_ = -1, raw4_icmp_ = -1, raw6_tcp_ = -1, raw6_icmp_ = -1;
  std::map<int, uint32_t> marks_;  // fd -> SO_MARK currently set
  struct Cached {
    std::string value;
    uint64_t at_ms = 0;
  };
  std::map<std::string, Cached> sysctls_;
  uint64_t sent_ = 0, failed_ = 0;
};

}  // namespace nfjit::daemon
