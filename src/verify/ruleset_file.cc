#include "verify/ruleset_file.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace nfjit::verify {
namespace {

std::vector<std::string> words(const std::string& line) {
  // iptables-save quotes arguments with spaces ("--comment \"a b\""); a quoted run is one word.
  std::vector<std::string> out;
  std::string cur;
  bool q = false, any = false;
  for (char c : line) {
    if (c == '"') {
      q = !q;
      any = true;
      continue;
    }
    if (!q && (c == ' ' || c == '\t')) {
      if (any) out.push_back(cur);
      cur.clear();
      any = false;
      continue;
    }
    cur += c;
    any = true;
  }
  if (any) out.push_back(cur);
  return out;
}

bool looks_v6_address(const std::string& w) {
  // Two colons at least ("8000:8080" is a port range) and not a MAC address (02:4e:4a:00:02:01).
  bool mac = w.size() == 17 && std::count(w.begin(), w.end(), ':') == 5 && w.find("::") == std::string::npos;
  return !mac && std::count(w.begin(), w.end(), ':') >= 2 && w.find_first_not_of("0123456789abcdefABCDEF:./") == std::string::npos;
}

}  // namespace

DumpChain* DumpTable::find(const std::string& chain) {
  for (auto& c : chains)
    if (c.name == chain) return &c;
  return nullptr;
}
const DumpChain* DumpTable::find(const std::string& chain) const {
  return const_cast<DumpTable*>(this)->find(chain);
}
const DumpTable* RulesetFile::find(const std::string& table) const {
  for (const auto& t : tables)
    if (t.name == table) return &t;
  return nullptr;
}

Result<RulesetFile> parse_ruleset_text(std::string text) {
  RulesetFile f;
  f.text = std::move(text);
  std::istringstream in(f.text);
  std::string line;
  int n = 0;
  bool saw_first = false;
  std::set<std::string> wildcards;
  DumpTable* table = nullptr;
  while (std::getline(in, line)) {
    ++n;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    size_t s = line.find_first_not_of(" \t");
    if (s == std::string::npos || line[s] == '#') continue;
    std::string t = line.substr(s);
    if (!saw_first) {
      saw_first = true;
      for (const char* kw : {"table ", "flush ", "define ", "include ", "add ", "destroy ", "delete "})
        if (t.rfind(kw, 0) == 0) f.kind = RulesetFile::Kind::Nft;
    }
    if (f.kind == RulesetFile::Kind::Nft) continue;
    if (t[0] == '*') {
      f.tables.push_back({t.substr(1), {}});
      table = &f.tables.back();
      continue;
    }
    if (t == "COMMIT") {
      table = nullptr;
      continue;
    }
    if (!table) return make_error(EINVAL, "line " + std::to_string(n) + ": rule outside a *table section");
    if (t[0] == ':') {
      auto w = words(t.substr(1));
      if (w.empty()) return make_error(EINVAL, "line " + std::to_string(n) + ": empty chain declaration");
      table->chains.push_back({w[0], w.size() > 1 ? w[1] : "-", {}});
      continue;
    }
    if (t[0] == '[') {  // "[pkts:bytes] -A ..." from iptables-save -c
      size_t e = t.find(']');
      if (e == std::string::npos) return make_error(EINVAL, "line " + std::to_string(n) + ": bad counter prefix");
      t = t.substr(t.find_first_not_of(' ', e + 1));
    }
    auto w = words(t);
    if (w.size() < 2 || (w[0] != "-A" && w[0] != "--append"))
      return make_error(EINVAL, "line " + std::to_string(n) + ": not an iptables-save rule: " + t);
    DumpChain* c = table->find(w[1]);
    if (!c) return make_error(EINVAL, "line " + std::to_string(n) + ": chain " + w[1] + " was not declared");
    c->rules.push_back({n, t});
    for (size_t i = 2; i < w.size(); ++i) {
      const std::string& a = w[i];
      if ((a == "-i" || a == "-o" || a == "--in-interface" || a == "--out-interface") && i + 1 < w.size()) {
        std::string name = w[++i];
        if (name == "!" && i + 1 < w.size()) name = w[++i];
        if (name.empty() || name == "lo" || name == "+") continue;
        if (name.back() == '+') wildcards.insert(name.substr(0, name.size() - 1));
        else f.interfaces.insert(name);
      } else if (looks_v6_address(a) || a == "ipv6-icmp" || a == "icmpv6" || a == "--icmpv6-type" || a == "icmp6") {
        f.family = 6;
        f.family_certain = true;
      } else if (a == "--icmp-type") {
        f.family_certain = true;
      }
    }
  }
  if (f.kind == RulesetFile::Kind::Nft) return f;
  if (f.tables.empty()) return make_error(EINVAL, "no *table section: not an iptables-save / ip6tables-save dump");
  for (const auto& p : wildcards) {
    bool have = false;
    for (const auto& i : f.interfaces)
      if (i.rfind(p, 0) == 0) have = true;
    if (!have) f.interfaces.insert((p + "0").substr(0, 15));
  }
  return f;
}

Result<RulesetFile> read_ruleset_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ENOENT, "cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_ruleset_text(ss.str());
}

}  // namespace nfjit::verify
