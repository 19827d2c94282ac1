// The two forms of a verify report: text a person reads at a glance, JSON for machines.
#include <algorithm>
#include <cstdio>

#include "verify/verify.h"

namespace nfjit::verify {
namespace {

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += static_cast<char>(c);
    else if (c == '\n') o += "\\n";
    else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else o += static_cast<char>(c);
  }
  return o + "\"";
}

template <typename T, typename F>
std::string json_list(const std::vector<T>& v, F f) {
  std::string o = "[";
  for (size_t i = 0; i < v.size(); ++i) o += (i ? "," : "") + f(v[i]);
  return o + "]";
}

// Rules under their reason, each reason once.
void list_grouped(std::string& o, const std::vector<NotLowered>& v) {
  std::vector<std::string> reasons;
  for (const auto& n : v)
    if (std::find(reasons.begin(), reasons.end(), n.reason) == reasons.end()) reasons.push_back(n.reason);
  for (const auto& why : reasons) {
    o += "  because " + why + ":\n";
    for (const auto& n : v)
      if (n.reason == why) o += "    " + n.rule + "\n";
  }
}

}  // namespace

std::string report_text(const Report& r) {
  std::string o;
  char line[512];
  std::snprintf(line, sizeof line, "nfjit verify %s (%s, seed %llu): %s\n", r.file.c_str(),
                r.family == 6 ? "ip6tables" : "iptables", static_cast<unsigned long long>(r.seed),
                r.clean() ? "CLEAN — nfjit and the kernel agree on every packet and counter"
                          : "DIVERGENT — nfjit and the kernel disagree");
  o += line;
  std::snprintf(line, sizeof line,
                "  rules: %zu in the dump, %zu compared as BPF, %zu not lowered (run by the kernel), %zu hit by "
                "some packet\n  packets: %zu sent to each side\n  divergences: %zu\n  time: %.1f s\n",
                r.rules, r.rules_compared, r.not_lowered.size(), r.rules_hit, r.packets, r.divergences_total, r.seconds);
  o += line;
  o += "  tables:";
  for (const auto& p : r.placement) o += " [" + p + "]";
  o += "\n";
  if (!r.not_lowered.empty()) {
    o += "\nNot lowered (passed to the kernel's netfilter, so not compared):\n";
    list_grouped(o, r.not_lowered);
  }
  if (!r.not_driven.empty()) {
    o += "\nRules no generated packet aims at (still counted and compared):\n";
    list_grouped(o, r.not_driven);
  }
  for (size_t i = 0; i < r.divergences.size(); ++i) {
    const auto& d = r.divergences[i];
    o += "\nDIVERGENCE " + std::to_string(i + 1) + " (" + d.kind + ")\n";
    o += "  rule:    " + d.rule + "\n";
    if (!d.packet.empty()) o += "  packet:  " + d.packet + "\n";
    if (!d.why.empty()) o += "  made as: " + d.why + "\n";
    o += "  kernel:  " + d.kernel + "\n";
    o += "  nfjit:   " + d.nfjit + "\n";
    if (!d.counters.empty()) o += "  counters:" + d.counters + "\n";
    if (!d.hex.empty()) o += "  hex:     " + d.hex + "\n";
  }
  if (r.divergences_total > r.divergences.size())
    o += "\n(" + std::to_string(r.divergences_total - r.divergences.size()) + " more divergences not listed)\n";
  return o;
}

std::string report_json(const Report& r) {
  auto nl = [](const NotLowered& n) { return "{\"rule\":" + json_str(n.rule) + ",\"reason\":" + json_str(n.reason) + "}"; };
  std::string o = "{";
  o += "\"file\":" + json_str(r.file);
  o += ",\"family\":" + std::to_string(r.family);
  o += ",\"seed\":" + std::to_string(r.seed);
  o += ",\"clean\":" + std::string(r.clean() ? "true" : "false");
  o += ",\"rules\":" + std::to_string(r.rules);
  o += ",\"rules_compared\":" + std::to_string(r.rules_compared);
  o += ",\"rules_hit\":" + std::to_string(r.rules_hit);
  o += ",\"packets\":" + std::to_string(r.packets);
  o += ",\"divergence_count\":" + std::to_string(r.divergences_total);
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3f", r.seconds);
  o += ",\"seconds\":" + std::string(secs);
  o += ",\"tables\":" + json_list(r.placement, json_str);
  o += ",\"not_lowered\":" + json_list(r.not_lowered, nl);
  o += ",\"not_driven\":" + json_list(r.not_driven, nl);
  o += ",\"divergences\":" + json_list(r.divergences, [](const Divergence& d) {
    return "{\"kind\":" + json_str(d.kind) + ",\"rule\":" + json_str(d.rule) + ",\"packet\":" + json_str(d.packet) +
           ",\"hex\":" + json_str(d.hex) + ",\"kernel\":" + json_str(d.kernel) + ",\"nfjit\":" + json_str(d.nfjit) +
           ",\"why\":" + json_str(d.why) + "}";
  });
  return o + "}\n";
}

}  // namespace nfjit::verify
