#include "runtime/attachment_meta.h"

#include <bpf/bpf.h>

#include <cstring>
#include <sstream>

namespace nfjit::runtime {

namespace {

constexpr uint32_t kChunk = 64 * 1024;

// Names may hold spaces or newlines; percent-encode the few bytes that would break a line.
std::string esc(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (c <= ' ' || c == '%' || c >= 0x7f) {
      char b[4];
      snprintf(b, sizeof b, "%%%02x", c);
      o += b;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o.empty() ? "%" : o;  // a lone % marks the empty string
}

std::string unesc(const std::string& s) {
  if (s == "%") return "";
  std::string o;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      o += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      o += s[i];
    }
  }
  return o;
}

}  // namespace

bool AttachmentMeta::operator==(const AttachmentMeta& o) const { return to_text(*this) == to_text(o); }

std::string to_text(const AttachmentMeta& m) {
  std::ostringstream o;
  o << "at " << int(m.at.kind) << ' ' << int(m.at.pf) << ' ' << int(m.at.hook) << ' ' << m.at.priority << ' '
    << esc(m.at.ifname) << '\n';
  o << "type " << m.prog_type << ' ' << m.expected_attach_type << '\n';
  for (const auto& s : m.slots) o << "slot " << s.rule << ' ' << esc(s.chain) << '\n';
  for (const auto& l : m.logs) o << "log " << int(l.level) << ' ' << int(l.flags) << ' ' << esc(l.prefix) << '\n';
  return o.str();
}

Result<AttachmentMeta> meta_from_text(const std::string& text) {
  AttachmentMeta m;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string tag;
    l >> tag;
    if (tag == "at") {
      int kind, pf, hook;
      std::string ifn;
      l >> kind >> pf >> hook >> m.at.priority >> ifn;
      m.at.kind = static_cast<codegen::AttachKind>(kind);
      m.at.pf = static_cast<uint8_t>(pf);
      m.at.hook = static_cast<ir::Hook>(hook);
      m.at.ifname = unesc(ifn);
    } else if (tag == "type") {
      l >> m.prog_type >> m.expected_attach_type;
    } else if (tag == "slot") {
      codegen::CounterSlot s;
      std::string c;
      l >> s.rule >> c;
      s.chain = unesc(c);
      m.slots.push_back(s);
    } else if (tag == "log") {
      int level, flags;
      std::string p;
      l >> level >> flags >> p;
      m.logs.push_back(ir::LogAction{unesc(p), static_cast<uint8_t>(level), static_cast<uint8_t>(flags)});
    } else if (!tag.empty()) {
      return make_error(EINVAL, "attachment metadata: unknown line '" + line + "'");
    }
    if (l.fail()) return make_error(EINVAL, "attachment metadata: malformed line '" + line + "'");
  }
  if (m.prog_type == 0) return make_error(EINVAL, "attachment metadata: no program type");
  return m;
}

Result<Fd> store_meta(const AttachmentMeta& m) {
  std::string text = to_text(m);
  std::string blob(4, '\0');
  uint32_t len = static_cast<uint32_t>(text.size());
  std::memcpy(blob.data(), &len, 4);
  blob += text;
  uint32_t chunks = static_cast<uint32_t>((blob.size() + kChunk - 1) / kChunk);
  blob.resize(static_cast<size_t>(chunks) * kChunk, '\0');
  int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "nfjit_meta", 4, kChunk, chunks, nullptr);
  if (fd < 0) {
    int err = errno;
    return make_error(err, std::string("cannot create the metadata map: ") + strerror(err));
  }
  Fd map(fd);
  for (uint32_t i = 0; i < chunks; ++i) {
    if (bpf_map_update_elem(fd, &i, blob.data() + static_cast<size_t>(i) * kChunk, BPF_ANY) != 0) {
      int err = errno;
      return make_error(err, std::string("cannot write the metadata map: ") + strerror(err));
    }
  }
  return map;
}

Result<AttachmentMeta> load_meta(int map_fd) {
  std::string blob;
  std::vector<char> chunk(kChunk);
  for (uint32_t i = 0;; ++i) {
    if (bpf_map_lookup_elem(map_fd, &i, chunk.data()) != 0) break;
    blob.append(chunk.data(), chunk.size());
  }
  if (blob.size() < 4) return make_error(EINVAL, "attachment metadata map is empty");
  uint32_t len;
  std::memcpy(&len, blob.data(), 4);
  if (len > blob.size() - 4) return make_error(EINVAL, "attachment metadata map is truncated");
  return meta_from_text(blob.substr(4, len));
}

}  // namespace nfjit::runtime
