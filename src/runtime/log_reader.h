// Drains the LogRing maps of installed programs (libbpf ring_buffer) and sends each record as a
// kernel-format LOG line to syslog at the LOG action's level.
#pragma once

#include <bpf/libbpf.h>

#include <functional>
#include <string>
#include <vector>

#include "ir/ir.h"
#include "nfjit/result.h"

namespace nfjit::runtime {

class LogReader {
 public:
  // `sink` receives (syslog level, line); the default writes with syslog(3) under LOG_KERN.
  using Sink = std::function<void(int level, const std::string& line)>;
  explicit LogReader(Sink sink = {});
  ~LogReader();
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  // REJECT records (codegen/reject.h) share the LOG rings; they go to this sink (whole record: the
  // 64-byte head and the packet bytes). Without a sink they are ignored.
  using RejectSink = std::function<void(const uint8_t* record, size_t size)>;
  void set_reject_sink(RejectSink sink) { reject_sink_ = std::move(sink); }

  // Adds a ring (the engine's Engine::log_rings()). `logs` must outlive the reader or the next reset().
  Result<void> add(int ring_fd, const std::vector<ir::LogAction>* logs);
  // Forgets every ring (after an install replaced the programs, re-add the new rings).
  void reset();
  // Waits up to `timeout_ms` and handles what arrived; returns the number of records handled.
  Result<int> poll(int timeout_ms);
  // An fd that becomes readable when records are pending (for the daemon's event loop).
  int epoll_fd() const;

 private:
  struct Ctx {
    LogReader* self;
    const std::vector<ir::LogAction>* logs;
  };
  static int on_record(void* ctx, void* data, size_t size);
  Sink sink_;
  RejectSink reject_sink_;
  ring_buffer* rb_ = nullptr;
  std::vector<Ctx*> ctxs_;
};

}  // namespace nfjit::runtime
