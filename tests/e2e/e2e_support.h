// Shared pieces of the end-to-end tests: IR builders, the real code generator bound into an Engine, and
// reading nft counters inside a namespace.
#pragma once

#include <arpa/inet.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "codegen/compile.h"
#include "ir/ir.h"
#include "netns.h"
#include "oracle.h"
#include "runtime/engine.h"

namespace nfjit::e2e {

using namespace nfjit::ir;

inline Match m_int(Field f, std::vector<Range> ranges, bool invert = false, uint32_t mask = 0xffffffffu) {
  IntMatch im;
  im.field = f;
  im.mask = mask;
  im.ranges = std::move(ranges);
  return Match{im, invert};
}
inline Match m_eq(Field f, uint32_t v, bool invert = false) { return m_int(f, {{v, v}}, invert); }
inline Match m_range(Field f, uint32_t lo, uint32_t hi) { return m_int(f, {{lo, hi}}); }
inline Match m_masked(Field f, uint32_t mask, uint32_t value) { return m_int(f, {{value, value}}, false, mask); }
inline Match m_anybit(Field f, uint32_t mask) {
  IntMatch im;
  im.field = f;
  im.op = IntOp::AnyBit;
  im.mask = mask;
  return Match{im, false};
}
inline Addr addr(const std::string& s) {
  Addr a{};
  if (inet_pton(s.find(':') != std::string::npos ? AF_INET6 : AF_INET, s.c_str(), a.data()) != 1)
    throw std::invalid_argument("bad address " + s);
  return a;
}
inline Match m_prefix(Field f, const std::string& a, int plen) {
  AddrMatch am;
  am.field = f;
  am.len = a.find(':') != std::string::npos ? 16 : 4;
  am.value = addr(a);
  for (int i = 0; i < plen; ++i) am.mask[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
  return Match{am, false};
}
inline Match m_set(const std::string& name) { return Match{SetMatch{name}, false}; }

inline Rule rule(std::string origin, std::vector<Match> ms, ActionKind k, std::string target = "") {
  Rule r;
  r.origin = std::move(origin);
  r.matches = std::move(ms);
  r.action.kind = k;
  r.action.target = std::move(target);
  return r;
}

// Set key bytes as ir.h lays them out: each field in packet width, padded to 4 bytes.
inline std::vector<uint8_t> key_v4(const std::string& a) {
  auto x = addr(a);
  return {x[0], x[1], x[2], x[3]};
}
inline std::vector<uint8_t> key_v6(const std::string& a) {
  auto x = addr(a);
  return std::vector<uint8_t>(x.begin(), x.end());
}
inline std::vector<uint8_t> key_port(uint16_t p) { return {static_cast<uint8_t>(p >> 8), static_cast<uint8_t>(p), 0, 0}; }
inline std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The Engine's compiler: the real code generator with the running kernel's BTF.
inline runtime::CompileFn real_compiler(const codegen::CompileOptions& opt = {}) {
  auto btf = codegen::KernelBtf::load();
  if (!btf) throw std::runtime_error(btf.error().message);
  auto shared = std::make_shared<codegen::KernelBtf>(std::move(*btf));
  return [shared, opt](const ir::Table& t, const std::string& chain, const codegen::AttachPoint& at) {
    return codegen::compile(t, chain, at, *shared, opt);
  };
}

// Loads an nft ruleset text into a namespace (nft -f from a temporary file); returns nft's output on
// failure, empty on success.
inline std::string nft_load(const test::Netns& ns, const std::string& text) {
  char path[] = "/tmp/nfjit-e2e-nft-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return "mkstemp failed";
  close(fd);
  {
    std::ofstream f(path);
    f << text;
  }
  std::string out;
  int rc = ns.run(std::string("nft -f ") + path, &out);
  unlink(path);
  return rc == 0 ? std::string() : (out.empty() ? "nft failed" : out);
}

}  // namespace nfjit::e2e
