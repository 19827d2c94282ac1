#include "runtime/log_reader.h"

#include <syslog.h>

#include <cstring>

#include "codegen/log_record.h"
#include "codegen/reject_record.h"
#include "runtime/log_format.h"

namespace nfjit::runtime {

LogReader::LogReader(Sink sink) : sink_(std::move(sink)) {
  if (!sink_) sink_ = [](int level, const std::string& line) { syslog(LOG_KERN | level, "%s", line.c_str()); };
}

LogReader::~LogReader() { reset(); }

void LogReader::reset() {
  if (rb_) ring_buffer__free(rb_);
  rb_ = nullptr;
  for (auto* c : ctxs_) delete c;
  ctxs_.clear();
}

int LogReader::on_record(void* ctx, void* data, size_t size) {
  auto* c = static_cast<Ctx*>(ctx);
  uint32_t first = 0;
  if (size >= sizeof first) std::memcpy(&first, data, sizeof first);
  if (first == codegen::kRejectRecordMagic) {
    if (c->self->reject_sink_) c->self->reject_sink_(static_cast<const uint8_t*>(data), size);
    return 0;
  }
  if (size < sizeof(codegen::LogRecord)) return 0;  // not ours: ignore rather than stop the ring
  codegen::LogRecord rec;
  std::memcpy(&rec, data, sizeof rec);
  ir::LogAction action;
  if (c->logs && rec.log_id < c->logs->size()) action = (*c->logs)[rec.log_id];
  c->self->sink_(action.level & 7, format_log_line(rec, action));
  return 0;
}

Result<void> LogReader::add(int ring_fd, const std::vector<ir::LogAction>* logs) {
  auto* ctx = new Ctx{this, logs};
  ctxs_.push_back(ctx);
  int rc = rb_ ? ring_buffer__add(rb_, ring_fd, on_record, ctx) : 0;
  if (!rb_) {
    rb_ = ring_buffer__new(ring_fd, on_record, ctx, nullptr);
    if (!rb_) rc = -errno;
  }
  if (rc < 0) return make_error(-rc, std::string("cannot read log ring: ") + strerror(-rc));
  return {};
}

Result<int> LogReader::poll(int timeout_ms) {
  if (!rb_) return 0;
  int n = ring_buffer__poll(rb_, timeout_ms);
  if (n < 0 && n != -EINTR) return make_error(-n, std::string("log ring poll failed: ") + strerror(-n));
  return n < 0 ? 0 : n;
}

int LogReader::epoll_fd() const { return rb_ ? ring_buffer__epoll_fd(rb_) : -1; }

}  // namespace nfjit::runtime
