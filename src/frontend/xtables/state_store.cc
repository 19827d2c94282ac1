#include "frontend/xtables/state_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace nfjit::xt {

namespace {

constexpr char kMagicV1[8] = {'N', 'F', 'J', 'X', 'T', 'S', 'T', '1'};
constexpr char kMagic[8] = {'N', 'F', 'J', 'X', 'T', 'S', 'T', '2'};
constexpr uint64_t kMaxFile = 1ull << 31;

class Writer {
 public:
  template <typename T>
  void put(const T& v) {
    auto* p = reinterpret_cast<const uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
  }
  void bytes(const void* p, size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }
  std::vector<uint8_t> out;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  template <typename T>
  bool get(T* v) {
    if (b_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool bytes(void* dst, size_t n) {
    if (b_.size() - pos_ < n) return false;
    std::memcpy(dst, b_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool at_end() const { return pos_ == b_.size(); }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

std::string prefix(ir::Family f) { return f == ir::Family::Ipv6 ? "xt6-" : "xt4-"; }

Result<void> make_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return {};
  int err = errno;
  return make_error(err, "cannot create state directory " + dir + ": " + strerror(err));
}

Result<std::vector<uint8_t>> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(errno, path + ": " + strerror(errno));
  std::vector<uint8_t> out;
  uint8_t buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    out.insert(out.end(), buf, buf + n);
    if (out.size() > kMaxFile) break;
  }
  int err = n < 0 ? errno : 0;
  ::close(fd);
  if (err) return make_error(err, path + ": " + strerror(err));
  return out;
}

}  // namespace

namespace {

// Everything before the blob (small), then the blob, base and zero as they are in memory: the file is
// written with one writev from these pieces, never copied into one buffer.
std::vector<uint8_t> encode_head(const SavedTable& t) {
  Writer w;
  w.bytes(kMagic, sizeof kMagic);
  w.put<uint32_t>(t.family == ir::Family::Ipv6 ? 6 : 4);
  w.put<uint32_t>(t.mode);
  w.put<uint64_t>(t.first_use);
  char name[XT_TABLE_MAXNAMELEN] = {};
  std::strncpy(name, t.name.c_str(), sizeof name - 1);
  w.bytes(name, sizeof name);
  w.put<uint32_t>(static_cast<uint32_t>(t.why.size()));
  w.bytes(t.why.data(), t.why.size());
  w.put<uint32_t>(t.header.valid_hooks);
  w.put<uint32_t>(t.header.num_entries);
  for (unsigned h = 0; h < kNumHooks; ++h) w.put<uint32_t>(t.header.hook_entry[h]);
  for (unsigned h = 0; h < kNumHooks; ++h) w.put<uint32_t>(t.header.underflow[h]);
  w.put<uint64_t>(t.blob.size());
  return std::move(w.out);
}

struct Pieces {
  std::vector<uint8_t> head;
  uint64_t base_count = 0, zero_count = 0;
  std::vector<xt_counters> zero_fill;  // a missing zero vector written as zeros
  std::vector<iovec> iov() const;
  const SavedTable* t = nullptr;
};

Pieces pieces_of(const SavedTable& t) {
  Pieces p;
  p.t = &t;
  p.head = encode_head(t);
  p.base_count = t.base.size();
  p.zero_count = t.base.size();
  if (t.zero.size() != t.base.size()) {
    p.zero_fill = t.zero;
    p.zero_fill.resize(t.base.size(), xt_counters{});
  }
  return p;
}

std::vector<iovec> Pieces::iov() const {
  auto v = [](const void* p, size_t n) { return iovec{const_cast<void*>(p), n}; };
  const auto& zero = zero_fill.empty() ? t->zero : zero_fill;
  return {v(head.data(), head.size()),
          v(t->blob.data(), t->blob.size()),
          v(&base_count, sizeof base_count),
          v(t->base.data(), t->base.size() * sizeof(xt_counters)),
          v(&zero_count, sizeof zero_count),
          v(zero.data(), zero_count * sizeof(xt_counters))};
}

}  // namespace

std::vector<uint8_t> encode_saved_table(const SavedTable& t) {
  Pieces p = pieces_of(t);
  std::vector<uint8_t> out;
  for (const auto& io : p.iov()) {
    auto* b = static_cast<const uint8_t*>(io.iov_base);
    out.insert(out.end(), b, b + io.iov_len);
  }
  return out;
}

Result<SavedTable> decode_saved_table(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  auto bad = [](const char* what) { return make_error(EINVAL, std::string("bad state file: ") + what); };
  char magic[8];
  if (!r.bytes(magic, sizeof magic)) return bad("magic");
  bool v1 = std::memcmp(magic, kMagicV1, sizeof magic) == 0;
  if (!v1 && std::memcmp(magic, kMagic, sizeof magic) != 0) return bad("magic");
  SavedTable t;
  uint32_t fam, mode, why_len;
  if (!r.get(&fam) || (fam != 4 && fam != 6)) return bad("family");
  t.family = fam == 6 ? ir::Family::Ipv6 : ir::Family::Ipv4;
  if (!r.get(&mode) || mode > SavedTable::kKernelOnly) return bad("mode");
  t.mode = static_cast<SavedTable::Mode>(mode);
  if (!r.get(&t.first_use)) return bad("first use");
  char name[XT_TABLE_MAXNAMELEN];
  if (!r.bytes(name, sizeof name)) return bad("name");
  t.name.assign(name, strnlen(name, sizeof name - 1));
  if (!r.get(&why_len) || why_len > (1u << 24)) return bad("reason");
  t.why.resize(why_len);
  if (!r.bytes(t.why.data(), why_len)) return bad("reason");
  t.header.name = t.name;
  if (!r.get(&t.header.valid_hooks) || !r.get(&t.header.num_entries)) return bad("header");
  for (unsigned h = 0; h < kNumHooks; ++h)
    if (!r.get(&t.header.hook_entry[h])) return bad("hooks");
  for (unsigned h = 0; h < kNumHooks; ++h)
    if (!r.get(&t.header.underflow[h])) return bad("underflows");
  uint64_t n;
  if (!r.get(&n) || n > kMaxFile) return bad("blob size");
  t.blob.resize(n);
  if (!r.bytes(t.blob.data(), n)) return bad("blob");
  t.header.size = static_cast<uint32_t>(n);
  if (!r.get(&n) || n > kMaxFile / sizeof(xt_counters)) return bad("counter count");
  t.base.resize(n);
  if (!r.bytes(t.base.data(), n * sizeof(xt_counters))) return bad("counters");
  t.zero.assign(t.base.size(), xt_counters{});
  if (!v1) {
    if (!r.get(&n) || n != t.base.size()) return bad("zero count");
    if (!r.bytes(t.zero.data(), n * sizeof(xt_counters))) return bad("zero counters");
  }
  if (!r.at_end()) return bad("trailing bytes");
  return t;
}

std::string StateStore::path_for(ir::Family family, const std::string& name) const {
  return dir_ + "/" + prefix(family) + name + ".state";
}

Result<void> StateStore::save(const SavedTable& t) const {
  if (auto ok = make_dir(dir_); !ok) return ok;
  Pieces p = pieces_of(t);
  std::vector<iovec> iov = p.iov();
  std::string path = path_for(t.family, t.name), tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(errno, "cannot write " + tmp + ": " + strerror(errno));
  size_t first = 0;
  while (first < iov.size()) {
    ssize_t w = ::writev(fd, iov.data() + first, static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX)));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return make_error(err, "cannot write " + tmp + ": " + strerror(err));
    }
    for (size_t done = static_cast<size_t>(w); first < iov.size() && done > 0;) {
      size_t take = std::min(done, iov[first].iov_len);
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + take;
      iov[first].iov_len -= take;
      done -= take;
      if (iov[first].iov_len == 0) ++first;
    }
    while (first < iov.size() && iov[first].iov_len == 0) ++first;
  }
  // No fsync: the rename makes the new file visible whole or not at all to a restarted daemon (what the
  // file exists for). Only a machine crash could lose it, and that also loses every pinned program and
  // the kernel's own iptables rules; a per-change fsync cost up to tens of ms per iptables command.
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return make_error(err, "cannot write " + tmp + ": " + strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return make_error(err, "cannot rename " + tmp + ": " + strerror(err));
  }
  return {};
}

std::vector<SavedTable> StateStore::load_all(std::vector<std::string>* problems) const {
  std::vector<SavedTable> out;
  DIR* d = ::opendir(dir_.c_str());
  if (!d) return out;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if ((n.rfind("xt4-", 0) == 0 || n.rfind("xt6-", 0) == 0) && n.size() > 6 && n.ends_with(".state"))
      names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) {
    auto bytes = read_file(dir_ + "/" + n);
    if (!bytes) {
      if (problems) problems->push_back(bytes.error().message);
      continue;
    }
    auto t = decode_saved_table(*bytes);
    if (!t) {
      if (problems) problems->push_back(dir_ + "/" + n + ": " + t.error().message);
      continue;
    }
    out.push_back(std::move(*t));
  }
  return out;
}

}  // namespace nfjit::xt
