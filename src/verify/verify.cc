#include "verify/verify.h"

#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "daemon/client.h"
#include "verify/corpus.h"
#include "verify/counters.h"
#include "verify/kernel_model.h"
#include "verify/observe.h"
#include "verify/process.h"
#include "verify/ruleset_file.h"
#include "verify/scratch.h"

namespace nfjit::verify {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kWindow = 8;           // packets between two counter readings (length-tagged, see below)
constexpr uint32_t kTagBase = 128;      // packet j of a window is 128 + 2^j bytes long at L3
constexpr size_t kMaxListed = 100;      // divergences kept in the report (all are counted)

// What one host did with one packet.
struct Outcome {
  bool local = false;                 // reached the local stack (NFLOG observer after every filter)
  std::string forwarded;              // left through this interface
  std::set<std::string> replies;      // what it sent back to S
  std::string text() const {
    std::string s = local ? "delivered" : !forwarded.empty() ? "forwarded out " + forwarded
                                          : replies.empty() ? "dropped" : "rejected";
    if (!replies.empty()) {
      s += " (answered:";
      for (const auto& r : replies) s += " " + r;
      s += ")";
    }
    return s;
  }
};

struct Sent {
  size_t probe = 0;
  uint32_t seq = 0;
  PacketSpec spec;      // as sent to K (N's may differ in a TCP ack number only)
  std::vector<uint8_t> frame;
  Outcome k, n;
};

// A host-side socket opened for an ESTABLISHED/RELATED probe, closed after its window.
struct HostFd {
  int fd = -1;
  ~HostFd() {
    if (fd >= 0) close(fd);
  }
};

uint16_t csum(const uint8_t* p, size_t n) {
  uint32_t a = 0;
  for (size_t i = 0; i + 1 < n; i += 2) a += (p[i] << 8) | p[i + 1];
  if (n & 1) a += p[n - 1] << 8;
  while (a >> 16) a = (a & 0xffff) + (a >> 16);
  return static_cast<uint16_t>(~a);
}

class Driver {
 public:
  Driver(Scratch& sc, const RulesetFile& file, const Options& opt, int family, const Corpus& corpus, Report& rep,
         std::set<std::pair<std::string, std::string>> output_chains)
      : sc_(sc), file_(file), opt_(opt), family_(family), corpus_(corpus), rep_(rep),
        output_chains_(std::move(output_chains)) {
    {
      InNetns g(sc_.k);
      nflog_k_ = std::make_unique<NflogWatch>();
    }
    {
      InNetns g(sc_.n);
      nflog_n_ = std::make_unique<NflogWatch>();
    }
    InNetns g(sc_.s);
    for (const auto& h : sc_.ifaces) {
      wire_k_.push_back(std::make_unique<Wire>(h.s_dev_k));
      wire_n_.push_back(std::make_unique<Wire>(h.s_dev_n));
    }
  }

  void run() {
    prev_k_ = read_counters(false);
    prev_n_ = read_counters(true);
    base_k_ = prev_k_;
    base_n_ = prev_n_;
    size_t total = 0;
    for (const auto& p : corpus_.probes) total += p.repeat;
    size_t done = 0;
    for (size_t i = 0; i < corpus_.probes.size(); ++i) {
      for (int r = 0; r < corpus_.probes[i].repeat; ++r) {
        check_interrupt();
        send_one(i, r == 0);
        ++done;
        if (opt_.progress) opt_.progress(done, total);
        if (window_.size() == kWindow) checkpoint();
      }
    }
    checkpoint();
    // What the hosts themselves sent (OUTPUT) is compared once, over the whole run: its timing (a TCP
    // stack's answer, an ICMP error) is not the injected packet's, so a window boundary may split it.
    final_ = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sent_.emplace_back();
    window_.push_back(sent_.size() - 1);
    checkpoint();
    Counters end = prev_k_;
    for (const auto& [key, ch] : end) {
      auto b = base_k_.find(key);
      for (size_t i = 0; i < ch.rules.size(); ++i)
        if (b == base_k_.end() || i >= b->second.rules.size() || ch.rules[i].packets > b->second.rules[i].packets)
          ++rep_.rules_hit;
    }
  }

 private:
  const HostIface& iface(const std::string& name) const { return sc_.iface(name); }
  size_t iface_index(const std::string& name) const {
    for (size_t i = 0; i < sc_.ifaces.size(); ++i)
      if (sc_.ifaces[i].name == name) return i;
    return 0;
  }

  Counters read_counters(bool nfjit) {
    std::string save = family_ == 6 ? "ip6tables-legacy-save" : "iptables-legacy-save";
    auto out = nfjit ? sc_.in_ok(sc_.n, {save, "-c"}, "", sc_.shim_env(opt_.preload_lib))
                     : sc_.in_ok(sc_.k, {save, "-c"});
    return parse_save_counters(out);
  }

  // Events of both hosts, attributed to their packets.
  void drain() {
    for (uint32_t t : nflog_k_->drain())
      if (Sent* s = by_seq(t)) s->k.local = true;
    for (uint32_t t : nflog_n_->drain())
      if (Sent* s = by_seq(t)) s->n.local = true;
    for (size_t i = 0; i < sc_.ifaces.size(); ++i) {
      for (int host = 0; host < 2; ++host) {
        for (const Seen& e : (host ? wire_n_ : wire_k_)[i]->drain()) {
          if (e.proto == 6 && e.tcp_flags == 0x02 && !e.tag) {
            syns_[host].push_back(e);
            continue;
          }
          Sent* s = e.tag ? by_seq(*e.tag) : by_ports(e);
          if (!s) continue;
          Outcome& o = host ? s->n : s->k;
          if (e.what == "forwarded") o.forwarded = sc_.ifaces[i].name;
          else o.replies.insert(e.what);
        }
      }
    }
  }

  Sent* by_seq(uint32_t seq) {
    if (seq < first_seq_ || seq - first_seq_ >= sent_.size()) return nullptr;
    return &sent_[seq - first_seq_];
  }
  Sent* by_ports(const Seen& e) {
    if (e.proto != 6) return nullptr;
    for (size_t back = 0; back < std::min<size_t>(sent_.size(), 64); ++back) {
      Sent& s = sent_[sent_.size() - 1 - back];
      if (s.spec.proto == 6 && s.spec.sport == e.dport && s.spec.dport == e.sport && s.spec.src == e.dst) return &s;
    }
    return nullptr;
  }

  void wait(std::chrono::microseconds d) {
    auto end = Clock::now() + d;
    std::vector<pollfd> fds;
    fds.push_back({nflog_k_->fd(), POLLIN, 0});
    fds.push_back({nflog_n_->fd(), POLLIN, 0});
    for (auto& w : wire_k_) fds.push_back({w->fd(), POLLIN, 0});
    for (auto& w : wire_n_) fds.push_back({w->fd(), POLLIN, 0});
    for (;;) {
      drain();
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
      if (Clock::now() >= end) break;
      poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(left, 0)));
      if (left <= 0) {
        drain();
        break;
      }
    }
  }

  // A socket in K or N sending `payload` from (local:lport) to (remote:rport) over `proto`.
  int host_send(const std::string& ns, uint8_t proto, const PacketSpec& p, const std::vector<uint8_t>& payload) {
    InNetns g(ns);
    int af = family_ == 6 ? AF_INET6 : AF_INET;
    sockaddr_storage local{}, remote{};
    socklen_t alen;
    auto fill = [&](sockaddr_storage& ss, const std::string& a, uint16_t port) {
      if (af == AF_INET) {
        auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        inet_pton(AF_INET, a.c_str(), &s4->sin_addr);
        alen = sizeof(sockaddr_in);
      } else {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        inet_pton(AF_INET6, a.c_str(), &s6->sin6_addr);
        alen = sizeof(sockaddr_in6);
      }
    };
    // The reverse of the probe: from the probe's destination to its source.
    fill(local, p.dst, p.dport);
    fill(remote, p.src, p.sport);
    int fd;
    int one = 1;
    if (proto == 17) {
      fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof one);
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      bind(fd, reinterpret_cast<sockaddr*>(&local), alen);
      sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&remote), alen);
    } else if (proto == 6) {
      fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof one);
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      bind(fd, reinterpret_cast<sockaddr*>(&local), alen);
      connect(fd, reinterpret_cast<sockaddr*>(&remote), alen);
    } else {
      // Echo request with identifier 0 and sequence 0, the ones an injected echo reply carries.
      fd = socket(af, SOCK_RAW | SOCK_CLOEXEC, af == AF_INET ? int(IPPROTO_ICMP) : int(IPPROTO_ICMPV6));
      fill(local, p.dst, 0);
      fill(remote, p.src, 0);
      bind(fd, reinterpret_cast<sockaddr*>(&local), alen);
      std::vector<uint8_t> m(8, 0);
      m[0] = af == AF_INET ? 8 : 128;
      m.insert(m.end(), payload.begin(), payload.end());
      if (af == AF_INET) {
        uint16_t c = csum(m.data(), m.size());
        m[2] = c >> 8;
        m[3] = c & 0xff;
      }
      sendto(fd, m.data(), m.size(), 0, reinterpret_cast<sockaddr*>(&remote), alen);
    }
    return fd;
  }

  void send_one(size_t pi, bool first) {
    const Probe& pr = corpus_.probes[pi];
    Sent s;
    s.probe = pi;
    s.seq = next_seq_++;
    if (sent_.empty()) first_seq_ = s.seq;
    PacketSpec spec = pr.spec;
    if (!pr.sport_fixed) spec.sport = static_cast<uint16_t>(20000 + (s.seq * 7919u) % 40000);
    uint8_t icmp = family_ == 6 ? 58 : 1;
    uint32_t ack_k = 0, ack_n = 0;
    bool per_host_ack = false;
    std::vector<uint8_t> tag = tag_bytes(s.seq);
    std::vector<uint8_t> quoted;  // RELATED: the packet the host sent, quoted by S's ICMP error
    switch (pr.ct) {
      case CtWant::New:
        if (spec.proto == 6) spec.tcp_flags = 0x02;
        break;
      case CtWant::Invalid:
        if (spec.proto == icmp) spec.icmp_type = family_ == 6 ? 129 : 0;  // an echo reply nobody asked for
        else {
          if (spec.proto != 6) spec.proto = 6;
          spec.tcp_flags = 0x03;  // SYN+FIN: conntrack refuses the combination
        }
        break;
      case CtWant::Established:
      case CtWant::Related:
        if (first) {
          uint8_t proto = pr.ct == CtWant::Related ? 17 : spec.proto == 6 ? 6 : spec.proto == icmp ? icmp : 17;
          if (pr.ct == CtWant::Established && proto == 17 && spec.proto != 17) spec.proto = 17;
          const std::vector<uint8_t> payload = {'f', 'l', 'o', 'w', 0, 0, 0, 0};
          PacketSpec flow = spec;
          if (flow.dport == 0) flow.dport = spec.dport = 9;
          syns_[0].clear();
          syns_[1].clear();
          flows_.push_back(std::make_unique<HostFd>(HostFd{host_send(sc_.k, proto, flow, payload)}));
          flows_.push_back(std::make_unique<HostFd>(HostFd{host_send(sc_.n, proto, flow, payload)}));
          if (proto == 6) {
            // The host's SYN, seen by S: the injected SYN-ACK acknowledges it (K and N pick their own ISNs).
            for (int i = 0; i < 50 && (syn_for(0, spec) < 0 || syn_for(1, spec) < 0); ++i)
              wait(std::chrono::microseconds(1000));
            ack_k = static_cast<uint32_t>(syn_for(0, spec) + 1);
            ack_n = static_cast<uint32_t>(syn_for(1, spec) + 1);
            per_host_ack = true;
            spec.tcp_flags = 0x12;
          } else if (proto == icmp) {
            spec.icmp_type = family_ == 6 ? 129 : 0;
            spec.icmp_code = 0;
          }
          if (pr.ct == CtWant::Related) {
            PacketSpec inner;
            inner.family = family_;
            inner.src = spec.dst;
            inner.dst = spec.src;
            inner.proto = 17;
            inner.sport = spec.dport;
            inner.dport = spec.sport;
            inner.payload_bytes = payload;
            quoted = build_l3(inner);
            spec.proto = icmp;
            spec.icmp_type = family_ == 6 ? 1 : 3;
            spec.icmp_code = family_ == 6 ? 4 : 3;
          }
          last_flow_spec_ = spec;
          last_ack_ = {ack_k, ack_n};
          last_per_host_ = per_host_ack;
          last_quoted_ = quoted;
        } else {
          spec = last_flow_spec_;
          std::tie(ack_k, ack_n) = last_ack_;
          per_host_ack = last_per_host_;
          quoted = last_quoted_;
        }
        break;
      case CtWant::Any:
        break;
    }
    // Payload: [quoted packet] tag, padded so that the window can tell its packets apart by length.
    std::vector<uint8_t> payload = quoted;
    payload.insert(payload.end(), tag.begin(), tag.end());
    spec.payload_bytes = payload;
    uint32_t natural = static_cast<uint32_t>(build_l3(spec).size());
    uint32_t target = pr.l3_length ? pr.l3_length : kTagBase + (1u << window_.size());
    if (target > natural) spec.payload_bytes.resize(payload.size() + (target - natural), 0);
    spec.tcp_ack = ack_k;
    const HostIface& in = iface(pr.in_iface);
    auto src_mac = pr.src_mac_set ? pr.src_mac : in.peer_mac;
    s.spec = spec;
    s.frame = build_frame(spec, in.host_mac, src_mac);
    std::vector<uint8_t> frame_n = s.frame;
    if (per_host_ack) {
      PacketSpec sn = spec;
      sn.tcp_ack = ack_n;
      frame_n = build_frame(sn, in.host_mac, src_mac);
    }
    sent_.push_back(std::move(s));
    window_.push_back(sent_.size() - 1);
    size_t ii = iface_index(pr.in_iface);
    wire_k_[ii]->send(sent_.back().frame);
    wire_n_[ii]->send(frame_n);
    ++rep_.packets;
    wait(std::chrono::microseconds(1500));
  }

  long syn_for(int host, const PacketSpec& spec) {
    for (const auto& e : syns_[host])
      if (e.sport == spec.dport && e.dport == spec.sport) return e.tcp_seq;
    drain();
    return -1;
  }

  std::string rule_text(const std::string& table, const std::string& chain, int idx) const {
    const DumpTable* t = file_.find(table);
    const DumpChain* c = t ? t->find(chain) : nullptr;
    if (idx < 0) return "policy of " + table + "/" + chain + (c ? " (" + c->policy + ")" : "");
    if (c && static_cast<size_t>(idx) < c->rules.size())
      return "line " + std::to_string(c->rules[idx].line) + ": " + c->rules[idx].text + "  [" + table + "]";
    return table + "/" + chain + " rule " + std::to_string(idx + 1);
  }

  void add(Divergence d) {
    ++rep_.divergences_total;
    if (rep_.divergences.size() < kMaxListed) rep_.divergences.push_back(std::move(d));
  }

  // Which packets of the window a counter delta counted, from their lengths (128 + 2^j bytes each);
  // empty when the lengths do not decode (a rule testing the length, or packets the host sent).
  std::optional<uint32_t> decode(const Count& d) const {
    if (d.packets > kWindow || d.bytes < kTagBase * d.packets) return std::nullopt;
    uint64_t mask = d.bytes - kTagBase * d.packets;
    if (mask >= (1u << kWindow) || std::popcount(mask) != static_cast<int>(d.packets)) return std::nullopt;
    for (size_t j = 0; j < window_.size(); ++j) {
      const Probe& p = corpus_.probes[sent_[window_[j]].probe];
      if ((mask >> j & 1) && p.l3_length) return std::nullopt;
    }
    return static_cast<uint32_t>(mask);
  }

  void checkpoint() {
    if (window_.empty()) return;
    wait(std::chrono::microseconds(3000));
    Counters k = read_counters(false), n = read_counters(true);
    std::set<std::pair<std::string, std::string>> keys;
    for (const auto& [key, v] : k) keys.insert(key);
    for (const auto& [key, v] : n) keys.insert(key);
    // Counter differences, each with the window packets it is about (decoded from the byte counts).
    struct CounterDiff {
      Divergence d;
      std::vector<size_t> which;
      bool decoded = false, policy = false;
    };
    std::vector<CounterDiff> diffs;
    for (const auto& key : keys) {
      bool output = output_chains_.count(key) > 0;
      if (output != final_) continue;
      const ChainCounters kc = k[key], nc = n[key], kp = (final_ ? base_k_ : prev_k_)[key],
                          np = (final_ ? base_n_ : prev_n_)[key];
      size_t nr = std::max(kc.rules.size(), nc.rules.size());
      for (int idx = -1; idx < static_cast<int>(nr); ++idx) {
        if (idx < 0 && !kc.has_policy) continue;
        auto at = [&](const ChainCounters& c, int i) { return i < 0 ? c.policy : size_t(i) < c.rules.size() ? c.rules[i] : Count{}; };
        Count dk = at(kc, idx) - at(kp, idx), dn = at(nc, idx) - at(np, idx);
        if (dk == dn) continue;
        CounterDiff cd;
        Divergence& d = cd.d;
        cd.policy = idx < 0;
        d.kind = "counter";
        d.rule = rule_text(key.first, key.second, idx);
        auto text = [](const Count& c) {
          return "+" + std::to_string(c.packets) + " packets / +" + std::to_string(c.bytes) + " bytes";
        };
        d.kernel = text(dk);
        d.nfjit = text(dn);
        auto mk = decode(dk), mn = decode(dn);
        if (final_) {
          d.packet = "(packets the hosts sent themselves, over the whole run)";
          d.kind = "counter (OUTPUT, whole run)";
          diffs.push_back(std::move(cd));
          continue;
        }
        if (mk && mn) {
          cd.decoded = true;
          for (size_t j = 0; j < window_.size(); ++j)
            if (((*mk ^ *mn) >> j) & 1) cd.which.push_back(j);
          d.kernel += " (" + count_list(*mk) + ")";
          d.nfjit += " (" + count_list(*mn) + ")";
        } else {
          for (size_t j = 0; j < window_.size(); ++j) cd.which.push_back(j);
        }
        for (size_t j : cd.which) {
          const Sent& s = sent_[window_[j]];
          if (!d.packet.empty()) d.packet += " | ";
          d.packet += "#" + std::to_string(s.seq) + " " + describe(s.spec) + " on " + corpus_.probes[s.probe].in_iface;
          if (!d.hex.empty()) d.hex += " ";
          d.hex += hex(s.frame);
          if (!d.why.empty()) d.why += " | ";
          d.why += corpus_.probes[s.probe].why;
        }
        if (cd.which.size() > 1) d.packet = "one of: " + d.packet;
        diffs.push_back(std::move(cd));
      }
    }
    // A packet whose fate differs is one divergence: named by the rule whose counter it moved on one
    // side only, with every counter difference it caused.
    std::set<size_t> verdict_js;
    for (size_t j = 0; j < window_.size() && !final_; ++j) {
      const Sent& s = sent_[window_[j]];
      std::string kt = s.k.text(), nt = s.n.text();
      if (kt == nt) continue;
      verdict_js.insert(j);
      Divergence d;
      d.kind = "verdict";
      const Probe& p = corpus_.probes[s.probe];
      for (int pass = 0; pass < 3 && d.rule.empty(); ++pass)
        for (const auto& cd : diffs)
          if (d.rule.empty() && std::count(cd.which.begin(), cd.which.end(), j) &&
              (pass == 2 || (cd.decoded && (pass == 1 || !cd.policy))))
            d.rule = cd.d.rule;
      if (d.rule.empty()) d.rule = "(no counter differs)";
      for (const auto& cd : diffs)
        if (std::count(cd.which.begin(), cd.which.end(), j))
          d.counters += "\n    " + cd.d.rule + ": kernel " + cd.d.kernel + ", nfjit " + cd.d.nfjit;
      d.packet = "#" + std::to_string(s.seq) + " " + describe(s.spec) + " on " + p.in_iface +
                 (p.ct != CtWant::Any ? std::string(" ct ") + to_string(p.ct) : "");
      d.hex = hex(s.frame);
      d.kernel = kt;
      d.nfjit = nt;
      d.why = p.why;
      add(std::move(d));
    }
    // Counter differences no verdict divergence explains.
    for (auto& cd : diffs) {
      bool explained = std::any_of(cd.which.begin(), cd.which.end(), [&](size_t j) { return verdict_js.count(j) > 0; });
      if (!explained) add(std::move(cd.d));
    }
    prev_k_ = std::move(k);
    prev_n_ = std::move(n);
    window_.clear();
    flows_.clear();
    // Older packets cannot get events any more that matter; keep the seq space but drop frames.
  }

  std::string count_list(uint32_t mask) const {
    std::string s;
    for (size_t j = 0; j < window_.size(); ++j)
      if ((mask >> j) & 1) s += (s.empty() ? "#" : ", #") + std::to_string(sent_[window_[j]].seq);
    return s.empty() ? "none of this window's packets" : "packets " + s;
  }

  Scratch& sc_;
  const RulesetFile& file_;
  const Options& opt_;
  int family_;
  const Corpus& corpus_;
  Report& rep_;
  std::unique_ptr<NflogWatch> nflog_k_, nflog_n_;
  std::vector<std::unique_ptr<Wire>> wire_k_, wire_n_;
  std::vector<Sent> sent_;
  std::vector<size_t> window_;
  uint32_t next_seq_ = 1, first_seq_ = 1;
  Counters prev_k_, prev_n_, base_k_, base_n_;
  std::set<std::pair<std::string, std::string>> output_chains_;
  bool final_ = false;
  std::vector<Seen> syns_[2];
  std::vector<std::unique_ptr<HostFd>> flows_;
  PacketSpec last_flow_spec_;
  std::pair<uint32_t, uint32_t> last_ack_;
  bool last_per_host_ = false;
  std::vector<uint8_t> last_quoted_;
};

std::string status_of(const Scratch& sc) {
  InNetns g(sc.n);
  auto c = wire::Client::connect(sc.sock);
  if (!c) throw std::runtime_error("nfjit status: " + c.error().message);
  auto t = c->status();
  if (!t) throw std::runtime_error("nfjit status: " + t.error().message);
  return *t;
}

}  // namespace

Report run_verify(const Options& opt) {
  auto t0 = Clock::now();
  install_interrupt_handlers();
  Report rep;
  rep.file = opt.file;
  rep.seed = opt.seed;
  auto file = read_ruleset_file(opt.file);
  if (!file) throw std::runtime_error(file.error().message);
  if (file->kind == RulesetFile::Kind::Nft)
    throw std::runtime_error(opt.file + " is an nft ruleset: nfjit verify reads iptables-save / ip6tables-save dumps "
                                        "only for now (nft input comes with the nft path through the shim)");
  if (geteuid() != 0) throw std::runtime_error("nfjit verify needs root (network namespaces, BPF)");
  int family = opt.family ? opt.family : file->family;
  std::vector<std::string> ifnames(file->interfaces.begin(), file->interfaces.end());
  if (ifnames.size() > 60) throw std::runtime_error("the ruleset names more than 60 interfaces");
  Scratch sc(ifnames);
  // Fresh IPv6 links announce their multicast memberships (MLD reports, retransmitted at random times
  // for a few seconds); OUTPUT counters must only see what the corpus causes.
  auto topology_done = Clock::now();

  auto restore = [](int fam) { return fam == 6 ? "ip6tables-legacy-restore" : "iptables-legacy-restore"; };
  CmdResult r = sc.in(sc.k, {restore(family)}, file->text);
  check_interrupt();
  if (r.status != 0 && !opt.family) {  // the guess was wrong: the other family's tool may take it
    CmdResult r6 = sc.in(sc.k, {restore(10 - family)}, file->text);
    if (r6.status == 0) {
      family = 10 - family;
      r = r6;
    }
  }
  if (r.status != 0) throw std::runtime_error(std::string("the kernel refuses the dump (") + restore(family) + "): " + r.out);
  rep.family = family;
  std::vector<std::string> table_names;
  for (const auto& t : file->tables) {
    table_names.push_back(t.name);
    for (const auto& c : t.chains) rep.rules += c.rules.size();
  }
  auto models = read_kernel_tables(sc.k, family, table_names);
  if (!models) throw std::runtime_error(models.error().message);

  sc.start_daemon(opt.nfjitd, opt.daemon_env);
  r = sc.in(sc.n, {restore(family)}, file->text, sc.shim_env(opt.preload_lib));
  check_interrupt();
  if (r.status != 0) {
    // The kernel took the dump, nfjit did not: that is a divergence in itself.
    Divergence d;
    d.kind = "load";
    d.rule = "the whole dump";
    d.kernel = "restored";
    d.nfjit = std::string(restore(family)) + " through nfjit failed: " + r.out;
    rep.divergences.push_back(d);
    rep.divergences_total = 1;
    rep.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return rep;
  }
  auto placement = parse_status(status_of(sc), family);
  for (const auto& t : file->tables) {
    const Placement* p = nullptr;
    for (const auto& x : placement)
      if (x.table == t.name) p = &x;
    size_t n = 0;
    for (const auto& c : t.chains) n += c.rules.size();
    bool bpf = p && p->bpf;
    std::string why = p ? p->why : "not listed by nfjit status";
    rep.placement.push_back(t.name + ": " + (bpf ? "BPF" : "kernel (" + why + ")"));
    if (bpf) {
      rep.rules_compared += n;
      continue;
    }
    std::string reason = "table " + t.name + " runs in the kernel: " + why;
    for (const auto& m : *models)
      if (m.name == t.name && t.name != "nat")
        for (const auto& ref : m.refusals) reason += "; " + ref.rule + ": " + ref.reason;
    for (const auto& c : t.chains)
      for (const auto& rl : c.rules) rep.not_lowered.push_back({rl.text, reason});
  }

  for (const auto& ns : {sc.k, sc.n}) sc.in_ok(ns, {"nft", "-f", "-"}, observer_ruleset());
  CorpusOptions co;
  co.seed = opt.seed;
  co.max_packets = opt.max_packets;
  co.family = family;
  Corpus corpus = build_corpus(*models, sc.ifaces, co);
  for (const auto& [rule, why] : corpus.not_driven) rep.not_driven.push_back({rule, why});
  std::string batch;
  const std::string plen = family == 6 ? "/128" : "/32";
  for (const auto& a : corpus.local_addrs) batch += "addr add " + a + plen + " dev lo nodad\n";
  for (const auto& [a, ifn] : corpus.routes) {
    const HostIface& h = sc.iface(ifn);
    batch += "route replace " + a + plen + " dev " + ifn + "\n";
    batch += "neigh replace " + a + " lladdr " + mac_text(h.peer_mac) + " dev " + ifn + " nud permanent\n";
  }
  for (const auto& [a, ifn] : corpus.neighbors)
    batch += "neigh replace " + a + " lladdr " + mac_text(sc.iface(ifn).peer_mac) + " dev " + ifn + " nud permanent\n";
  if (family == 4) {
    std::string b4;
    for (std::string line; const char c : batch) {
      line += c;
      if (c == '\n') {
        b4 += line.find(" nodad") != std::string::npos ? line.substr(0, line.find(" nodad")) + "\n" : line;
        line.clear();
      }
    }
    batch = b4;
  }
  for (const auto& ns : {sc.k, sc.n}) sc.in(ns, {"ip", "-force", "-batch", "-"}, batch);
  if (family == 6) std::this_thread::sleep_until(topology_done + std::chrono::milliseconds(4500));
  check_interrupt();

  // Chains only OUTPUT reaches (directly or by jumps): they count what the hosts send.
  std::set<std::pair<std::string, std::string>> output_chains;
  for (const auto& m : *models) {
    std::map<std::string, std::set<std::string>> reach;  // base chain -> chains reached
    for (const auto& c : m.ir.chains) {
      if (!c.base) continue;
      std::vector<std::string> todo{c.name};
      auto& seen = reach[c.name];
      while (!todo.empty()) {
        std::string x = todo.back();
        todo.pop_back();
        if (!seen.insert(x).second) continue;
        if (const ir::Chain* xc = m.ir.find_chain(x))
          for (const auto& r : xc->rules)
            if (r.action.kind == ir::ActionKind::Jump || r.action.kind == ir::ActionKind::Goto) todo.push_back(r.action.target);
      }
    }
    for (const auto& c : m.ir.chains) {
      bool from_output = false, from_other = false;
      for (const auto& [base, seen] : reach) {
        if (!seen.count(c.name)) continue;
        const ir::Chain* bc = m.ir.find_chain(base);
        (bc->base->hook == ir::Hook::Output ? from_output : from_other) = true;
      }
      if (from_output && !from_other) output_chains.insert({m.name, c.name});
    }
    if (m.ir.chains.empty())  // not lowerable: the dump's own OUTPUT chain
      output_chains.insert({m.name, "OUTPUT"});
  }
  Driver d(sc, *file, opt, family, corpus, rep, std::move(output_chains));
  d.run();
  rep.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return rep;
}

}  // namespace nfjit::verify
