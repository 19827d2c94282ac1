// Encoding and decoding of nfjit::wire frames (include/nfjit/wire.h) for the daemon, the CLI and tests.
// The shim does its own zero-allocation framing against the same structs.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nfjit/result.h"
#include "nfjit/sockopt.h"
#include "nfjit/wire.h"

namespace nfjit::wire {

std::vector<uint8_t> encode_frame(FrameType type, std::span<const uint8_t> payload);
std::vector<uint8_t> encode_text_frame(FrameType type, const std::string& text);
std::vector<uint8_t> encode_sockopt_request(const SockoptRequest& req);
std::vector<uint8_t> encode_sockopt_reply(const SockoptReply& reply, Disposition disposition = kAnswered);

// Checks magic, version, type and size; EPROTO with a message otherwise.
Result<void> check_header(const FrameHeader& hdr);
// Payload decoders (the header already checked). The request's peer is not on the wire: the daemon
// fills it from SO_PEERCRED.
Result<SockoptRequest> decode_sockopt_request(std::span<const uint8_t> payload);
struct DecodedReply {
  SockoptReply reply;
  Disposition disposition = kAnswered;
};
Result<DecodedReply> decode_sockopt_reply(std::span<const uint8_t> payload);

}  // namespace nfjit::wire
