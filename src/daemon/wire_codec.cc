#include "daemon/wire_codec.h"

#include <cstring>

namespace nfjit::wire {
namespace {

template <typename T>
void append(std::vector<uint8_t>* out, const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out->insert(out->end(), p, p + sizeof(T));
}

std::vector<uint8_t> start_frame(FrameType type, uint64_t length) {
  std::vector<uint8_t> out;
  out.reserve(sizeof(FrameHeader) + length);
  append(&out, FrameHeader{kMagic, kVersion, type, length});
  return out;
}

}  // namespace

std::vector<uint8_t> encode_frame(FrameType type, std::span<const uint8_t> payload) {
  auto out = start_frame(type, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<uint8_t> encode_text_frame(FrameType type, const std::string& text) {
  return encode_frame(type, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

std::vector<uint8_t> encode_sockopt_request(const SockoptRequest& req) {
  SockoptRequestFixed fixed{};
  fixed.set = req.set ? 1 : 0;
  fixed.level = req.level;
  fixed.optname = req.optname;
  fixed.optlen = req.optlen;
  auto out = start_frame(kSockoptRequest, sizeof(fixed) + req.data.size());
  append(&out, fixed);
  out.insert(out.end(), req.data.begin(), req.data.end());
  return out;
}

std::vector<uint8_t> encode_sockopt_reply(const SockoptReply& reply, Disposition disposition) {
  SockoptReplyFixed fixed{};
  fixed.err = reply.err;
  fixed.retval = reply.retval;
  fixed.disposition = disposition;
  fixed.data_len = reply.data.size();
  // After the data: the old counters of a successful call, or the message of a failed one.
  std::span<const uint8_t> rest(reply.old_counters);
  if (reply.err) rest = {reinterpret_cast<const uint8_t*>(reply.message.data()), reply.message.size()};
  auto out = start_frame(kSockoptReply, sizeof(fixed) + reply.data.size() + rest.size());
  append(&out, fixed);
  out.insert(out.end(), reply.data.begin(), reply.data.end());
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

Result<void> check_header(const FrameHeader& hdr) {
  if (hdr.magic != kMagic) return make_error(EPROTO, "bad frame magic");
  if (hdr.version != kVersion)
    return make_error(EPROTO, "protocol version " + std::to_string(hdr.version) + " not supported (this is " +
                                  std::to_string(kVersion) + ")");
  if (!is_known_frame_type(hdr.type))
    return make_error(EPROTO, "unknown frame type " + std::to_string(hdr.type));
  if (hdr.length > kMaxFrame) return make_error(EPROTO, "frame of " + std::to_string(hdr.length) + " bytes is too large");
  return {};
}

Result<SockoptRequest> decode_sockopt_request(std::span<const uint8_t> payload) {
  SockoptRequestFixed fixed;
  if (payload.size() < sizeof(fixed)) return make_error(EPROTO, "short sockopt request");
  std::memcpy(&fixed, payload.data(), sizeof(fixed));
  SockoptRequest req;
  req.set = fixed.set != 0;
  req.level = fixed.level;
  req.optname = fixed.optname;
  req.optlen = fixed.optlen;
  req.data.assign(payload.begin() + sizeof(fixed), payload.end());
  if (req.set && req.data.size() != req.optlen) return make_error(EPROTO, "setsockopt data length != optlen");
  if (!req.set && req.data.size() > req.optlen) return make_error(EPROTO, "getsockopt input exceeds optlen");
  return req;
}

Result<DecodedReply> decode_sockopt_reply(std::span<const uint8_t> payload) {
  SockoptReplyFixed fixed;
  if (payload.size() < sizeof(fixed)) return make_error(EPROTO, "short sockopt reply");
  std::memcpy(&fixed, payload.data(), sizeof(fixed));
  if (fixed.data_len > payload.size() - sizeof(fixed)) return make_error(EPROTO, "reply data_len beyond frame");
  DecodedReply out;
  out.disposition = static_cast<Disposition>(fixed.disposition);
  out.reply.err = fixed.err;
  out.reply.retval = fixed.retval;
  auto data = payload.subspan(sizeof(fixed));
  out.reply.data.assign(data.begin(), data.begin() + static_cast<ptrdiff_t>(fixed.data_len));
  if (fixed.err) out.reply.message.assign(data.begin() + static_cast<ptrdiff_t>(fixed.data_len), data.end());
  else out.reply.old_counters.assign(data.begin() + static_cast<ptrdiff_t>(fixed.data_len), data.end());
  return out;
}

}  // namespace nfjit::wire
