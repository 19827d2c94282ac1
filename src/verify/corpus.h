// The packets `nfjit verify` sends, built from the lowered rules: for every rule, a packet that meets
// all of its matches (and of the jump that leads to its chain), packets that meet them at the edges
// (both ends of a port range, first and last address of a prefix), and packets that miss it by one field
// at a time (an address just outside the prefix, a port one past the range, each tested TCP flag
// flipped, each other conntrack state, another interface...); then random packets. Deterministic for a
// seed and bounded by max_packets.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "verify/kernel_model.h"
#include "verify/packet.h"
#include "verify/scratch.h"

namespace nfjit::verify {

// The conntrack state a probe must have when it arrives; the driver makes it real (a flow opened by the
// host before an ESTABLISHED probe, an ICMP error quoting such a flow for RELATED, a flag combination
// conntrack refuses for INVALID).
enum class CtWant : uint8_t { Any, New, Established, Related, Invalid };
const char* to_string(CtWant);

enum class Direction : uint8_t { Input, Forward };

struct Probe {
  PacketSpec spec;
  Direction dir = Direction::Input;
  std::string in_iface;          // where S injects it (a HostIface name)
  std::string out_iface;         // Forward: where the destination is routed
  bool src_mac_set = false;
  std::array<uint8_t, 6> src_mac{};
  CtWant ct = CtWant::Any;
  uint32_t l3_length = 0;        // a rule tests the length: exactly this IP length (0: the driver pads freely)
  int repeat = 1;                // a rate-limited rule: send it this many times in a row
  bool sport_fixed = false;      // a rule tests the source port: the driver must not make it unique
  std::string why;               // "rule INPUT#3 (-A INPUT ...): all matches hold" / "...: misses by dport 21"
};

struct CorpusOptions {
  uint64_t seed = 1;
  size_t max_packets = 1000;
  int family = 4;
};

struct Corpus {
  std::vector<Probe> probes;
  // Addresses K and N must own (destinations of INPUT probes) and routes they need (sources to answer,
  // FORWARD destinations), per interface name.
  std::vector<std::string> local_addrs;
  std::vector<std::pair<std::string, std::string>> routes;  // {address, interface}
  // Link-local sources: a static neighbour entry, so that answering them sends no solicitation (whose
  // retransmission timers would count in OUTPUT at different moments in K and N).
  std::vector<std::pair<std::string, std::string>> neighbors;
  // Rules no probe is aimed at, with the reason ("-i lo", "OUTPUT direction", "mark cannot be set").
  std::vector<std::pair<std::string, std::string>> not_driven;
};

Corpus build_corpus(const std::vector<TableModel>& tables, const std::vector<HostIface>& ifaces,
                    const CorpusOptions& opt);

}  // namespace nfjit::verify
