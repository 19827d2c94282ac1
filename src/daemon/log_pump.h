// Turns the LOG rings of the installed programs into syslog lines, on a thread of its own so that a burst
// of log records never delays an iptables command (and a slow command never delays the logs).
#pragma once

#include <atomic>
#include <mutex>
#include <thread>

#include "runtime/engine.h"
#include "runtime/log_reader.h"

namespace nfjit::daemon {

class LogPump {
 public:
  // `reject` receives the REJECT records of the rings (daemon/reject_sender.h); empty = ignore them.
  explicit LogPump(const runtime::Engine& engine, runtime::LogReader::RejectSink reject = {});
  ~LogPump();
  // Re-reads the engine's rings; call after every install or remove (from the serving thread).
  void refresh();

 private:
  void loop();
  const runtime::Engine& engine_;
  runtime::LogReader reader_;
  std::mutex mu_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace nfjit::daemon
