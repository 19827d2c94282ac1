// The tests' crafted packets are the product's: `nfjit verify` injects frames built by
// src/verify/packet.h (IPv4/IPv6, TCP/UDP/SCTP/ICMP/ICMPv6, options, extension headers, fragments, valid
// checksums, Ethernet framing, AF_PACKET Injector). One builder, so that what the tests send and what
// verify sends are made the same way.
#pragma once

#include "verify/packet.h"

namespace nfjit::test {

using verify::build_frame;
using verify::build_l3;
using verify::describe;
using verify::Injector;
using verify::PacketSpec;
using verify::parse_mac;

}  // namespace nfjit::test
