#include "daemon/connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "daemon/wire_codec.h"

namespace nfjit::daemon {
namespace {
// The payload buffer grows with the bytes that actually arrive, so a garbage length costs nothing.
constexpr size_t kGrowStep = 1 << 20;
}  // namespace

Connection::Connection(runtime::Fd fd, Peer peer)
    : fd_(std::move(fd)), peer_(std::move(peer)), last_activity_(std::chrono::steady_clock::now()) {}

Connection::ReadStep Connection::read_some(size_t budget, std::string* error) {
  while (budget > 0 && !frame_ready_) {
    ssize_t n;
    if (hdr_got_ < sizeof(hdr_)) {
      n = ::recv(fd_.get(), reinterpret_cast<uint8_t*>(&hdr_) + hdr_got_, sizeof(hdr_) - hdr_got_, 0);
    } else {
      size_t want = std::min<uint64_t>(hdr_.length - payload_got_, budget);
      if (payload_.size() < payload_got_ + want)
        payload_.resize(std::min<uint64_t>(hdr_.length, std::max(payload_got_ + want, payload_got_ + kGrowStep)));
      n = ::recv(fd_.get(), payload_.data() + payload_got_, want, 0);
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return ReadStep::kWouldBlock;
    if (n <= 0) return ReadStep::kClosed;
    last_activity_ = std::chrono::steady_clock::now();
    budget -= std::min<size_t>(budget, static_cast<size_t>(n));
    if (hdr_got_ < sizeof(hdr_)) {
      if (hdr_got_ == 0) frame_started_ = last_activity_;
      hdr_got_ += static_cast<size_t>(n);
      if (hdr_got_ < sizeof(hdr_)) continue;
      if (auto ok = wire::check_header(hdr_); !ok) {
        *error = ok.error().message;
        return ReadStep::kBadFrame;
      }
      payload_.clear();
      payload_got_ = 0;
    } else {
      payload_got_ += static_cast<size_t>(n);
    }
    if (hdr_got_ == sizeof(hdr_) && payload_got_ == hdr_.length) {
      payload_.resize(payload_got_);
      frame_ready_ = true;
    }
  }
  return frame_ready_ ? ReadStep::kFrame : ReadStep::kWouldBlock;
}

Frame Connection::take_frame() {
  Frame f{hdr_, std::move(payload_)};
  payload_ = {};
  payload_got_ = 0;
  hdr_got_ = 0;
  frame_ready_ = false;
  return f;
}

void Connection::queue(std::vector<uint8_t> bytes) {
  if (out_off_ == out_.size()) {
    out_ = std::move(bytes);
    out_off_ = 0;
  } else {
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }
}

bool Connection::flush() {
  while (out_off_ < out_.size()) {
    ssize_t n = ::send(fd_.get(), out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0) return false;
    out_off_ += static_cast<size_t>(n);
    last_activity_ = std::chrono::steady_clock::now();
  }
  out_.clear();
  out_off_ = 0;
  return true;
}

}  // namespace nfjit::daemon
