#include "daemon/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace nfjit::wire {

Result<Client> Client::connect(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) return make_error(ENAMETOOLONG, "socket path too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(errno, std::string("socket: ") + strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    return make_error(err, "connect " + socket_path + ": " + strerror(err));
  }
  return Client(fd);
}

Client::Client(Client&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
Client& Client::operator=(Client&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}
Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> Client::send_raw(const std::vector<uint8_t>& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(errno, std::string("send: ") + strerror(errno));
    off += static_cast<size_t>(n);
  }
  return {};
}

namespace {
Result<void> recv_exact(int fd, void* buf, size_t n) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return make_error(errno, std::string("recv: ") + strerror(errno));
    if (r == 0) return make_error(ECONNRESET, "daemon closed the connection");
    p += r;
    n -= static_cast<size_t>(r);
  }
  return {};
}
}  // namespace

Result<std::pair<FrameHeader, std::vector<uint8_t>>> Client::read_frame() {
  FrameHeader hdr;
  if (auto r = recv_exact(fd_, &hdr, sizeof(hdr)); !r) return r.error();
  if (auto r = check_header(hdr); !r) return r.error();
  std::vector<uint8_t> payload(hdr.length);
  if (auto r = recv_exact(fd_, payload.data(), payload.size()); !r) return r.error();
  return std::pair{hdr, std::move(payload)};
}

namespace {
Error protocol_error_from(const std::vector<uint8_t>& payload) {
  return make_error(EPROTO, "daemon: " + std::string(payload.begin(), payload.end()));
}
}  // namespace

Result<DecodedReply> Client::sockopt(const SockoptRequest& req) {
  if (auto r = send_raw(encode_sockopt_request(req)); !r) return r.error();
  auto frame = read_frame();
  if (!frame) return frame.error();
  if (frame->first.type == kProtocolError) return protocol_error_from(frame->second);
  if (frame->first.type != kSockoptReply) return make_error(EPROTO, "unexpected reply frame type");
  return decode_sockopt_reply(frame->second);
}

Result<std::string> Client::table_names(int family) {
  TableNamesRequest req{static_cast<uint32_t>(family)};
  if (auto r = send_raw(encode_frame(kTableNamesRequest, {reinterpret_cast<const uint8_t*>(&req), sizeof(req)})); !r)
    return r.error();
  auto frame = read_frame();
  if (!frame) return frame.error();
  if (frame->first.type == kProtocolError) return protocol_error_from(frame->second);
  if (frame->first.type == kSockoptReply) {
    auto rep = decode_sockopt_reply(frame->second);
    if (!rep) return rep.error();
    if (rep->disposition == kNotThisNamespace) return make_error(EXDEV, "daemon serves another network namespace");
    return make_error(rep->reply.err, std::string("daemon refused: ") + strerror(rep->reply.err));
  }
  if (frame->first.type != kTableNamesReply) return make_error(EPROTO, "unexpected reply frame type");
  return std::string(frame->second.begin(), frame->second.end());
}

Result<std::string> Client::status() {
  if (auto r = send_raw(encode_frame(kStatusRequest, {})); !r) return r.error();
  auto frame = read_frame();
  if (!frame) return frame.error();
  if (frame->first.type == kProtocolError) return protocol_error_from(frame->second);
  if (frame->first.type == kSockoptReply) {  // refused before reaching the handler (credentials)
    auto rep = decode_sockopt_reply(frame->second);
    if (!rep) return rep.error();
    return make_error(rep->reply.err, std::string("daemon refused: ") + strerror(rep->reply.err));
  }
  if (frame->first.type != kStatusReply) return make_error(EPROTO, "unexpected reply frame type");
  return std::string(frame->second.begin(), frame->second.end());
}

}  // namespace nfjit::wire
