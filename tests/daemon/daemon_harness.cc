#include "daemon_harness.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "daemon/log.h"

namespace nfjit::test {

SockoptReply RecordingHandler::sockopt(const SockoptRequest& req) {
  {
    std::lock_guard lock(mu_);
    seen_.push_back(req);
  }
  return answer_(req);
}

std::vector<SockoptRequest> RecordingHandler::requests() const {
  std::lock_guard lock(mu_);
  return seen_;
}

RecordingHandler::Answer answer_errno(int err) {
  return [err](const SockoptRequest&) {
    SockoptReply r;
    r.err = err;
    return r;
  };
}

DaemonHarness::DaemonHarness(daemon::RequestHandler& handler, daemon::ServerOptions opts) {
  daemon::log_open(/*to_stderr=*/true, /*to_syslog=*/false);
  char tmpl[] = "/tmp/nfjitd-test-XXXXXX";
  dir_ = mkdtemp(tmpl);
  socket_ = dir_ + "/nfjitd.sock";
  opts.socket_path = socket_;
  server_ = std::make_unique<daemon::Server>(opts, handler);
  auto ok = server_->start();
  if (!ok) ADD_FAILURE() << "server start: " << ok.error().message;
  thread_ = std::thread([this] { server_->run(); });
}

DaemonHarness::~DaemonHarness() {
  server_->request_stop();
  thread_.join();
  server_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string call_name(const SockoptRequest& r) {
  std::string lvl = r.level == 0 ? "SOL_IP" : r.level == 41 ? "SOL_IPV6" : std::to_string(r.level);
  std::string name;
  int rev_match = r.level == 41 ? 68 : 66;
  if (r.set) name = r.optname == 64 ? "SET_REPLACE" : r.optname == 65 ? "SET_ADD_COUNTERS" : "";
  else if (r.optname == 64) name = "GET_INFO";
  else if (r.optname == 65) name = "GET_ENTRIES";
  else if (r.optname == rev_match) name = "GET_REVISION_MATCH";
  else if (r.optname == rev_match + 1) name = "GET_REVISION_TARGET";
  if (name.empty()) name = (r.set ? "set " : "get ") + std::to_string(r.optname);
  return lvl + " " + name;
}

std::vector<std::string> call_names(const std::vector<SockoptRequest>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(call_name(r));
  return out;
}

}  // namespace nfjit::test
