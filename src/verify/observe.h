// Watching what happens to each injected packet, in K and in N alike:
//  - NflogWatch: an nft observer chain (`inet nfjv_obs`, hook input priority 100, after every filter
//    table) sends each packet that reached the local stack to NFLOG group 7; this socket reads them.
//  - S's AF_PACKET sockets (one per veth end) inject frames and see what the host sends back: ICMP
//    errors and TCP RSTs (REJECT or the stack's own answers), echo replies, forwarded packets.
// Every injected packet carries a tag ("NFJV" + sequence number) in its payload, so an event names its
// packet whatever order events arrive in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nfjit::verify {

constexpr uint32_t kTagMagic = 0x4e464a56;  // "NFJV"
constexpr uint16_t kNflogGroup = 7;

std::vector<uint8_t> tag_bytes(uint32_t seq);
// The first tag in `data`, if any.
std::optional<uint32_t> find_tag(const uint8_t* data, size_t len);

// The nft text of the observer table (loaded into K's and N's own nf_tables).
std::string observer_ruleset();

class NflogWatch {
 public:
  // Opens the socket in the calling thread's network namespace and binds it to kNflogGroup.
  NflogWatch();
  ~NflogWatch();
  NflogWatch(const NflogWatch&) = delete;
  NflogWatch& operator=(const NflogWatch&) = delete;
  int fd() const { return fd_; }
  // Reads what is queued; returns the tags of packets that reached the local stack.
  std::vector<uint32_t> drain();

 private:
  int fd_ = -1;
};

struct Seen {
  std::optional<uint32_t> tag;  // the injected packet it carries or quotes
  std::string what;             // "ICMP 3/3", "TCP RST", "TCP SYN-ACK", "ICMP echo-reply", "forwarded"
  // For packets without a tag (TCP answers): the 5-tuple to find their packet by.
  std::string src, dst;
  uint16_t sport = 0, dport = 0;
  uint8_t proto = 0;
  uint32_t tcp_seq = 0;
  uint8_t tcp_flags = 0;
};

class Wire {
 public:
  // Opens a socket on `dev` in the calling thread's network namespace (S).
  explicit Wire(const std::string& dev);
  ~Wire();
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;
  int fd() const { return fd_; }
  bool send(const std::vector<uint8_t>& frame);
  // Frames the host sent to S since the last call, classified (ARP, NDP, MLD are skipped).
  std::vector<Seen> drain();

 private:
  int fd_ = -1;
};

}  // namespace nfjit::verify
