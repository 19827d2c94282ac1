// A blocking client of nfjitd for the nfjit CLI and tests (the shim has its own, allocation-free one).
#pragma once

#include <string>
#include <vector>

#include "daemon/wire_codec.h"
#include "nfjit/result.h"
#include "nfjit/sockopt.h"

namespace nfjit::wire {

class Client {
 public:
  // Connects to the daemon's socket; Error.err is connect's errno (ENOENT/ECONNREFUSED: no daemon).
  static Result<Client> connect(const std::string& socket_path);
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  Result<DecodedReply> sockopt(const SockoptRequest& req);
  Result<std::string> status();
  // wire::kTableNamesRequest: the /proc/net/ip{,6}_tables_names text the daemon answers (family 4/6).
  Result<std::string> table_names(int family);
  // Sends arbitrary bytes (tests: garbage, truncated frames) and reads one whole frame back.
  Result<void> send_raw(const std::vector<uint8_t>& bytes);
  Result<std::pair<FrameHeader, std::vector<uint8_t>>> read_frame();
  int fd() const { return fd_; }

 private:
  explicit Client(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace nfjit::wire
