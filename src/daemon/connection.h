// One client connection of nfjitd: non-blocking frame reassembly and reply buffering, so that a slow
// or stalled client costs the serving loop nothing but its own buffers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/peer.h"
#include "nfjit/wire.h"
#include "runtime/fd.h"

namespace nfjit::daemon {

struct Frame {
  wire::FrameHeader header{};
  std::vector<uint8_t> payload;
};

class Connection {
 public:
  Connection(runtime::Fd fd, Peer peer);

  enum class ReadStep {
    kWouldBlock,  // nothing more to read now
    kFrame,       // a whole frame arrived: take_frame()
    kClosed,      // peer closed (possibly mid-frame) or a read error
    kBadFrame,    // header failed wire::check_header(); *error says why
  };
  // Reads at most `budget` bytes, stopping at the end of a frame.
  ReadStep read_some(size_t budget, std::string* error);
  Frame take_frame();

  void queue(std::vector<uint8_t> bytes);
  // Writes what the socket takes; false on a fatal error (peer gone).
  bool flush();
  bool wants_write() const { return out_off_ < out_.size(); }

  int fd() const { return fd_.get(); }
  const Peer& peer() const { return peer_; }
  bool mid_frame() const { return hdr_got_ > 0; }
  std::chrono::steady_clock::time_point last_activity() const { return last_activity_; }
  // When the first byte of the frame last taken (or being read) arrived: debug timings of transport.
  std::chrono::steady_clock::time_point frame_started() const { return frame_started_; }
  bool close_when_flushed = false;

 private:
  runtime::Fd fd_;
  Peer peer_;
  wire::FrameHeader hdr_{};
  size_t hdr_got_ = 0;  // header bytes so far (== sizeof(hdr_) once it is complete)
  std::vector<uint8_t> payload_;
  size_t payload_got_ = 0;
  bool frame_ready_ = false;
  std::vector<uint8_t> out_;
  size_t out_off_ = 0;
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point frame_started_{};
};

}  // namespace nfjit::daemon
