#include "daemon/log_pump.h"

#include <sys/epoll.h>

#include "daemon/log.h"

namespace nfjit::daemon {

LogPump::LogPump(const runtime::Engine& engine, runtime::LogReader::RejectSink reject) : engine_(engine) {
  reader_.set_reject_sink(std::move(reject));
  refresh();
  thread_ = std::thread([this] { loop(); });
}

LogPump::~LogPump() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void LogPump::refresh() {
  std::lock_guard<std::mutex> lock(mu_);
  reader_.reset();
  for (const auto& ring : engine_.log_rings())
    if (auto ok = reader_.add(ring.map_fd, ring.logs); !ok)
      logf(LOG_WARNING, "log ring not read: %s", ok.error().message.c_str());
}

void LogPump::loop() {
  while (!stop_) {
    int efd;
    {
      std::lock_guard<std::mutex> lock(mu_);
      efd = reader_.epoll_fd();
    }
    // Wait outside the lock (bounded, so stop and refresh are seen), then drain under it.
    if (efd >= 0) {
      epoll_event ev;
      epoll_wait(efd, &ev, 1, 200);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (auto r = reader_.poll(0); !r) logf(LOG_WARNING, "reading log rings: %s", r.error().message.c_str());
  }
}

}  // namespace nfjit::daemon
