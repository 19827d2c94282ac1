// An in-process nfjitd (the real Server, on its own thread and a fresh socket) with a handler that
// records what reaches it: the test double of RequestHandler for transport and shim tests.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/request_handler.h"
#include "daemon/server.h"

namespace nfjit::test {

class RecordingHandler : public daemon::RequestHandler {
 public:
  using Answer = std::function<SockoptReply(const SockoptRequest&)>;
  explicit RecordingHandler(Answer answer) : answer_(std::move(answer)) {}
  SockoptReply sockopt(const SockoptRequest& req) override;
  std::string status() override { return status_text; }
  std::vector<SockoptRequest> requests() const;

  std::string status_text = "ipv4 filter: test handler\n";

 private:
  Answer answer_;
  mutable std::mutex mu_;
  std::vector<SockoptRequest> seen_;
};

// Answers every call with one errno.
RecordingHandler::Answer answer_errno(int err);

class DaemonHarness {
 public:
  // The server takes the CALLING thread's namespaces as its own (construct inside EnterNetns to serve
  // a test namespace).
  explicit DaemonHarness(daemon::RequestHandler& handler, daemon::ServerOptions opts = {});
  ~DaemonHarness();
  const std::string& socket() const { return socket_; }
  const std::string& dir() const { return dir_; }
  daemon::Server& server() { return *server_; }

 private:
  std::string dir_, socket_;
  std::unique_ptr<daemon::Server> server_;
  std::thread thread_;
};

// A readable name for an xtables call, e.g. "get 0/64" -> "SOL_IP GET_INFO".
std::string call_name(const SockoptRequest& r);
std::vector<std::string> call_names(const std::vector<SockoptRequest>& rs);

}  // namespace nfjit::test
