#include "runtime/engine.h"

#include <bpf/bpf.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>

#include "runtime/attach.h"
#include "runtime/attachment_meta.h"
#include "runtime/bpf_link.h"
#include "runtime/bpffs.h"
#include "runtime/conntrack_enabler.h"
#include "runtime/counters.h"
#include "runtime/dispatcher.h"
#include "runtime/loader.h"

namespace nfjit::runtime {

// One attachment point of a key: its link and dispatcher slot, and the maps of the program in the slot.
struct Engine::Attachment {
  std::string name;
  AttachmentMeta meta;
  Fd link, progs;
  Fd prog;  // the program currently in the slot
  Fd counters, log, meta_map;
  std::map<std::string, Fd> sets;
  std::map<std::string, codegen::MapSpec> set_specs;
  // The IR the program in the slot was compiled from (program_input); unknown after restore().
  std::shared_ptr<const ir::Table> source;
};

struct Engine::Entry {
  std::map<std::string, Attachment> points;
};

namespace {

// A program compiled and loaded for one attachment point, not yet in any slot.
struct Prepared {
  std::string chain;
  std::string name;
  codegen::Program prog;
  LoadedProgram loaded;
  std::shared_ptr<const ir::Table> source;  // what it was compiled from (program_input)
};

class Stopwatch {
 public:
  // Milliseconds since the previous lap (or construction).
  double lap() {
    auto now = std::chrono::steady_clock::now();
    double ms = std::chrono::duration<double, std::milli>(now - last_).count();
    last_ = now;
    return ms;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

std::string ms_text(double ms) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f ms", ms);
  return b;
}

// The chains a program for base chain `base` is compiled from: the base chain and every chain it
// reaches by jump or goto, in table order (codegen compiles exactly these).
std::vector<const ir::Chain*> reachable_chains(const ir::Table& t, const std::map<std::string, size_t>& index,
                                               const std::string& base) {
  std::vector<bool> seen(t.chains.size(), false);
  std::vector<size_t> todo;
  if (auto it = index.find(base); it != index.end()) {
    seen[it->second] = true;
    todo.push_back(it->second);
  }
  while (!todo.empty()) {
    size_t c = todo.back();
    todo.pop_back();
    for (const auto& r : t.chains[c].rules) {
      if (r.action.kind != ir::ActionKind::Jump && r.action.kind != ir::ActionKind::Goto) continue;
      auto it = index.find(r.action.target);
      if (it == index.end() || seen[it->second]) continue;
      seen[it->second] = true;
      todo.push_back(it->second);
    }
  }
  std::vector<const ir::Chain*> out;
  for (size_t i = 0; i < t.chains.size(); ++i)
    if (seen[i]) out.push_back(&t.chains[i]);
  return out;
}

// What one attachment point's program depends on: the table's name, family and sets, and its chains.
ir::Table program_input(const ir::Table& t, const std::vector<const ir::Chain*>& chains) {
  ir::Table in{t.name, t.family, {}, t.sets};
  in.chains.reserve(chains.size());
  for (const auto* c : chains) in.chains.push_back(*c);
  return in;
}

bool same_input(const ir::Table& stored, const ir::Table& t, const std::vector<const ir::Chain*>& chains) {
  if (stored.name != t.name || stored.family != t.family || stored.chains.size() != chains.size() ||
      stored.sets != t.sets)
    return false;
  for (size_t i = 0; i < chains.size(); ++i)
    if (!(stored.chains[i] == *chains[i])) return false;
  return true;
}

std::string describe(const ir::Table& t, const std::string& chain, const codegen::AttachPoint& at) {
  return "table '" + t.name + "' chain '" + chain + "' at " + attach_point_name(at);
}

Error wrap(const Error& e, const std::string& where) { return make_error(e.err, where + ": " + e.message); }

// The attachment points of every base chain of `t`.
Result<std::vector<std::pair<std::string, codegen::AttachPoint>>> plan(const ir::Table& t, const Placement& pl) {
  std::vector<std::pair<std::string, codegen::AttachPoint>> out;
  std::map<std::string, std::string> taken;  // point name -> chain
  auto add = [&](const std::string& chain, codegen::AttachPoint at) -> Result<void> {
    std::string n = attach_point_name(at);
    if (auto it = taken.find(n); it != taken.end())
      return make_error(EBUSY, "table '" + t.name + "': chains '" + it->second + "' and '" + chain +
                                   "' would both attach at " + n + " (same hook and priority)");
    taken[n] = chain;
    out.emplace_back(chain, std::move(at));
    return {};
  };
  for (const auto& c : t.chains) {
    if (!c.base) continue;
    const ir::BaseChain& b = *c.base;
    const Placement::Override* ov = nullptr;
    for (const auto& o : pl.overrides)
      if (o.chain == c.name) ov = &o;
    if (ov) {
      if (ov->ifnames.empty() || ov->kind == codegen::AttachKind::Netfilter)
        return make_error(EINVAL, "table '" + t.name + "' chain '" + c.name + "': a placement needs XDP or TC and interfaces");
      for (const auto& ifn : ov->ifnames) {
        codegen::AttachPoint at;
        at.kind = ov->kind;
        at.hook = b.hook;
        at.priority = b.priority;
        at.ifname = ifn;
        at.pf = t.family == ir::Family::Ipv6 ? 10 : 2;
        if (auto r = add(c.name, at); !r) return r.error();
      }
      continue;
    }
    if (b.hook == ir::Hook::Ingress || b.hook == ir::Hook::Egress) {
      if (b.devices.empty())
        return make_error(EINVAL, "table '" + t.name + "' chain '" + c.name + "': an " + ir::to_string(b.hook) +
                                      " chain needs a device");
      for (const auto& dev : b.devices) {
        codegen::AttachPoint at;
        at.kind = b.hook == ir::Hook::Ingress ? codegen::AttachKind::TcIngress : codegen::AttachKind::TcEgress;
        at.hook = b.hook;
        at.priority = b.priority;
        at.ifname = dev;
        if (auto r = add(c.name, at); !r) return r.error();
      }
      continue;
    }
    if (t.family == ir::Family::Netdev)
      return make_error(EINVAL, "table '" + t.name + "' chain '" + c.name + "': a netdev chain must hook ingress or egress");
    std::vector<uint8_t> pfs;
    if (t.family == ir::Family::Ipv4 || t.family == ir::Family::Inet) pfs.push_back(2);
    if (t.family == ir::Family::Ipv6 || t.family == ir::Family::Inet) pfs.push_back(10);
    for (uint8_t pf : pfs) {
      codegen::AttachPoint at;
      at.kind = codegen::AttachKind::Netfilter;
      at.pf = pf;
      at.hook = b.hook;
      at.priority = b.priority;
      if (auto r = add(c.name, at); !r) return r.error();
    }
  }
  return out;
}

// Reads the counters of one attachment's current program (its slots copied from the meta).
Result<ProgramCounters> read_program(const AttachmentMeta& meta, int counters_fd) {
  ProgramCounters pc;
  if (counters_fd < 0 || meta.slots.empty()) return pc;
  auto vals = read_counters(counters_fd, static_cast<uint32_t>(meta.slots.size()));
  if (!vals) return vals.error();
  pc.slots = meta.slots;
  pc.values = std::move(*vals);
  return pc;
}

codegen::MapSpec spec_of_map(int fd, const std::string& set_name) {
  codegen::MapSpec s;
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
    s.name = info.name;
    s.type = info.type;
    s.key_size = info.key_size;
    s.value_size = info.value_size;
    s.max_entries = info.max_entries;
    s.flags = info.map_flags;
  }
  s.role = codegen::MapSpec::Role::Set;
  s.set_name = set_name;
  return s;
}

}  // namespace

namespace {

// True when a program of `t` at a netfilter hook reads conntrack state or mark from the skb; such a
// program needs conntrack to run in the namespace, which nothing else turns on once the kernel's own
// tables are empty. (At XDP/TC the ct lookup kfuncs find entries conntrack made elsewhere.)
bool reads_conntrack(const ir::Table& t) {
  for (const auto& c : t.chains)
    for (const auto& r : c.rules)
      for (const auto& m : r.matches)
        if (const auto* im = std::get_if<ir::IntMatch>(&m.m))
          if (im->field == ir::Field::CtState || im->field == ir::Field::CtMark) return true;
  return false;
}

}  // namespace

Engine::Engine(EngineOptions opt) : opt_(std::move(opt)) {}

Result<void> Engine::track_conntrack_user(const std::string& key, bool uses) {
  bool was = !ct_users_.empty();
  if (uses)
    ct_users_.insert(key);
  else
    ct_users_.erase(key);
  if (!was && !ct_users_.empty()) return enable_conntrack();
  if (was && ct_users_.empty()) return disable_conntrack();
  return {};
}
Engine::~Engine() = default;  // closing fds never detaches a pinned link; unpinned links detach here

std::string Engine::dir_of(const std::string& key) const { return opt_.bpffs + "/" + key; }

CounterTotals totals_of(const std::vector<ProgramCounters>& programs) {
  CounterTotals t;
  for (const auto& p : programs)
    for (size_t i = 0; i < p.slots.size() && i < p.values.size(); ++i) {
      auto& v = t[{p.slots[i].chain, p.slots[i].rule}];
      v.packets += p.values[i].packets;
      v.bytes += p.values[i].bytes;
    }
  return t;
}

Result<CounterTotals> Engine::install(const std::string& key, const ir::Table& table, const Placement& placement) {
  auto r = install_impl(key, table, placement, false);
  if (!r) return r.error();
  return totals_of(r->old);
}

Result<InstallReport> Engine::update(const std::string& key, const ir::Table& table, const Placement& placement) {
  return install_impl(key, table, placement, true);
}

Result<InstallReport> Engine::install_impl(const std::string& key, const ir::Table& table, const Placement& placement,
                                           bool keep_unchanged) {
  if (key.empty() || key.find('/') != std::string::npos || key[0] == '.')
    return make_error(EINVAL, "invalid ruleset key '" + key + "'");
  if (!opt_.compile) return make_error(EINVAL, "engine has no compiler");
  Stopwatch clock;
  InstallReport report;
  auto points = plan(table, placement);
  if (!points) return points.error();

  Entry* entry = nullptr;
  if (auto it = entries_.find(key); it != entries_.end()) entry = it->second.get();
  std::map<std::string, size_t> chain_index;
  for (size_t i = 0; i < table.chains.size(); ++i) chain_index.emplace(table.chains[i].name, i);

  // 1. Compile and load everything that changed. Nothing in the kernel's packet path changes yet.
  //    A point whose program would come from the same IR as the one in force keeps that program.
  std::vector<Prepared> ready;
  std::set<std::string> kept;
  double compile_ms = 0, load_ms = 0;
  // Rate-limit state is one map for all the table's programs (codegen::MapSpec::shared): the first
  // program loaded creates it, the others reuse it. A table with limits therefore reloads every point
  // together, so that no kept program goes on using an older map.
  std::map<std::string, int> shared_maps;
  LoadOptions load_opt;
  load_opt.shared = &shared_maps;
  bool has_limits = false;
  for (const auto& c : table.chains)
    for (const auto& r : c.rules)
      for (const auto& m : r.matches) has_limits |= std::holds_alternative<ir::LimitMatch>(m.m);
  if (has_limits) keep_unchanged = false;
  for (auto& [chain, at] : *points) {
    std::string where = describe(table, chain, at);
    if (at.kind != codegen::AttachKind::Netfilter) {
      auto idx = resolve_ifindex(at);
      if (!idx) return wrap(idx.error(), where);
      at.ifindex = *idx;
    }
    auto chains = reachable_chains(table, chain_index, chain);
    std::string name = attach_point_name(at);
    if (keep_unchanged && entry) {
      auto old = entry->points.find(name);
      if (old != entry->points.end() && old->second.source && old->second.prog.valid() &&
          old->second.meta.at.ifindex == at.ifindex && same_input(*old->second.source, table, chains)) {
        kept.insert(name);
        continue;
      }
    }
    Stopwatch one;
    auto prog = opt_.compile(table, chain, at);
    if (!prog) return wrap(prog.error(), where);
    compile_ms += one.lap();
    auto loaded = load_program(*prog, load_opt);
    if (!loaded) return wrap(loaded.error(), where);
    load_ms += one.lap();
    ready.push_back(Prepared{chain, name, std::move(prog.value()), std::move(loaded.value()),
                             std::make_shared<const ir::Table>(program_input(table, chains))});
  }
  report.timings = "plan " + ms_text(clock.lap() - compile_ms - load_ms) + ", compile " + ms_text(compile_ms) +
                   ", map creation and load " + ms_text(load_ms);

  // Conntrack must already run when the first packet reaches a program that reads its state.
  const bool uses_ct = reads_conntrack(table);
  if (uses_ct)
    if (auto ok = track_conntrack_user(key, true); !ok) {
      ct_users_.erase(key);
      return make_error(ok.error().err, "cannot turn conntrack on for '" + key + "': " + ok.error().message);
    }

  // 2. Points this key already has must take the new program type; new points get a dispatcher whose
  //    slot is filled before it is attached, so it never runs empty.
  std::map<std::string, Attachment> fresh;
  for (auto& p : ready) {
    if (entry && entry->points.count(p.name)) {
      const auto& m = entry->points.at(p.name).meta;
      if (m.prog_type != p.prog.prog_type || m.expected_attach_type != p.prog.expected_attach_type)
        return make_error(EINVAL, describe(table, p.chain, p.prog.attach) +
                                      ": program type changed; remove the table before installing it again");
      continue;
    }
    auto d = make_dispatcher(p.prog.prog_type, p.prog.expected_attach_type, "nfjit_" + p.chain);
    if (!d) return wrap(d.error(), describe(table, p.chain, p.prog.attach));
    if (auto r = set_slot(d->progs.get(), p.loaded.prog.get()); !r)
      return wrap(r.error(), describe(table, p.chain, p.prog.attach));
    Attachment a;
    a.name = p.name;
    a.progs = std::move(d->progs);
    a.link.reset(d->prog.release());  // holds the dispatcher program until the link takes it
    fresh.emplace(p.name, std::move(a));
  }
  // From here on, a failure detaches and unpins every new point (a pinned link outlives its fd).
  struct UnpinOnFailure {
    Engine* self;
    const std::string& key;
    std::map<std::string, Attachment>* fresh;
    bool armed = true;
    ~UnpinOnFailure() {
      if (!armed) return;
      for (auto& [name, a] : *fresh) {
        (void)link_detach(a.link.get());  // fails harmlessly on a not-yet-linked dispatcher fd
        if (!self->opt_.bpffs.empty()) remove_tree(self->dir_of(key) + "/" + name);
      }
    }
  } guard{this, key, &fresh};
  // 3. Attach the new points. Any failure closes every new link (detaching it) and leaves the old
  //    version running untouched.
  for (auto& p : ready) {
    auto it = fresh.find(p.name);
    if (it == fresh.end()) continue;
    Fd dispatcher_prog = std::move(it->second.link);
    auto link = attach_program(dispatcher_prog.get(), p.prog.attach);
    if (!link) return wrap(link.error(), describe(table, p.chain, p.prog.attach));
    it->second.link = std::move(link.value());
  }
  if (!opt_.bpffs.empty()) {
    for (auto& [name, a] : fresh) {
      std::string d = dir_of(key) + "/" + name;
      if (auto r = make_dirs(d); !r) return r.error();
      if (auto r = pin_replace(a.progs.get(), d + "/progs"); !r) return r.error();
      if (auto r = pin_replace(a.link.get(), d + "/link"); !r) return r.error();
    }
  }
  report.timings += ", attach new points " + ms_text(clock.lap());

  // 4. Swap the slots of points that already existed. Roll back the ones done if one fails.
  std::vector<Attachment*> swapped;
  for (auto& p : ready) {
    if (fresh.count(p.name)) continue;
    Attachment& a = entry->points.at(p.name);
    if (auto r = set_slot(a.progs.get(), p.loaded.prog.get()); !r) {
      for (auto* s : swapped) (void)set_slot(s->progs.get(), s->prog.get());
      return wrap(r.error(), describe(table, p.chain, p.prog.attach));
    }
    swapped.push_back(&a);
  }
  guard.armed = false;
  report.timings += ", swap " + ms_text(clock.lap());

  // 5. The old version is out of every slot: read its final counters (and the kept programs' current
  //    ones, which go on counting), then adopt the new maps.
  if (entry)
    for (auto& [name, a] : entry->points) {
      auto pc = read_program(a.meta, a.counters.get());
      if (!pc) continue;
      if (kept.count(name)) report.carried.push_back(*pc);
      report.old.push_back(std::move(*pc));
    }
  report.timings += ", read old counters " + ms_text(clock.lap());
  if (!entry) {
    entries_[key] = std::make_unique<Entry>();
    entry = entries_[key].get();
  }
  for (auto& [name, a] : fresh) entry->points.emplace(name, std::move(a));
  std::set<std::string> wanted = kept;
  std::vector<std::string> pin_errors;
  for (auto& p : ready) {
    wanted.insert(p.name);
    report.loaded.push_back(p.name);
    Attachment& a = entry->points.at(p.name);
    a.meta.at = p.prog.attach;
    a.meta.prog_type = p.prog.prog_type;
    a.meta.expected_attach_type = p.prog.expected_attach_type;
    a.meta.slots = p.prog.counters;
    a.meta.logs = p.prog.logs;
    a.prog = std::move(p.loaded.prog);
    a.source = std::move(p.source);
    a.counters.reset();
    a.log.reset();
    a.sets.clear();
    a.set_specs.clear();
    for (size_t i = 0; i < p.prog.maps.size(); ++i) {
      const auto& spec = p.prog.maps[i];
      Fd& fd = p.loaded.maps[i];
      if (static_cast<int>(i) == p.prog.counters_map || spec.role == codegen::MapSpec::Role::Counters) {
        a.counters.reset(fd.release());
      } else if (static_cast<int>(i) == p.prog.log_map || spec.role == codegen::MapSpec::Role::LogRing) {
        a.log.reset(fd.release());
      } else if (spec.role == codegen::MapSpec::Role::Set) {
        a.set_specs[spec.set_name] = spec;
        a.sets[spec.set_name] = std::move(fd);
      }
    }
    auto meta_map = store_meta(a.meta);
    if (meta_map) a.meta_map = std::move(meta_map.value());
    if (!opt_.bpffs.empty()) {
      std::string d = dir_of(key) + "/" + a.name;
      for (const auto& n : list_dir(d, false))
        if (n.rfind("set_", 0) == 0 || n == "log" || n == "counters") unlink((d + "/" + n).c_str());
      auto pin = [&](const Fd& fd, const std::string& n) {
        if (!fd.valid()) return;
        if (auto r = pin_replace(fd.get(), d + "/" + n); !r) pin_errors.push_back(r.error().message);
      };
      pin(a.counters, "counters");
      pin(a.log, "log");
      for (auto& [sn, fd] : a.sets) pin(fd, "set_" + sn);
      pin(a.meta_map, "meta");
    }
  }
  report.kept.assign(kept.begin(), kept.end());
  report.timings += ", meta and pins " + ms_text(clock.lap());
  // 6. Points the new version no longer uses: their rules now run elsewhere (the new links were made
  //    first), so detaching them never leaves a packet unfiltered.
  for (auto it = entry->points.begin(); it != entry->points.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    (void)link_detach(it->second.link.get());
    if (!opt_.bpffs.empty()) remove_tree(dir_of(key) + "/" + it->first);
    report.removed.push_back(it->first);
    it = entry->points.erase(it);
  }
  if (!uses_ct) (void)track_conntrack_user(key, false);
  report.timings += ", detach " + ms_text(clock.lap());
  if (!pin_errors.empty())
    return make_error(EIO, "installed, but pinning failed (a restart would lose state): " + pin_errors.front());
  return report;
}

Result<void> Engine::remove(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return make_error(ENOENT, "no ruleset '" + key + "' installed");
  Result<void> res;
  for (auto& [name, a] : it->second->points) {
    auto r = link_detach(a.link.get());
    if (!r && res.ok()) res = wrap(r.error(), name);
  }
  if (!opt_.bpffs.empty()) remove_tree(dir_of(key));
  entries_.erase(it);
  if (auto ok = track_conntrack_user(key, false); !ok && res.ok()) res = ok;
  return res;
}

Result<CounterTotals> Engine::counters(const std::string& key) const {
  auto p = program_counters(key);
  if (!p) return p.error();
  return totals_of(*p);
}

Result<std::vector<ProgramCounters>> Engine::program_counters(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return make_error(ENOENT, "no ruleset '" + key + "' installed");
  std::vector<ProgramCounters> out;
  for (const auto& [name, a] : it->second->points) {
    auto r = read_program(a.meta, a.counters.get());
    if (!r) return wrap(r.error(), name);
    out.push_back(std::move(*r));
  }
  return out;
}

Result<void> Engine::update_set(const std::string& key, const ir::Set& set, const std::vector<ir::SetElement>& add,
                                const std::vector<ir::SetElement>& del) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return make_error(ENOENT, "no ruleset '" + key + "' installed");
  if (!opt_.encode_set_element) return make_error(EINVAL, "engine has no set encoder");
  // Encode everything first: a malformed element changes nothing.
  struct Write {
    int fd;
    MapEntry e;
    bool del;
  };
  std::vector<Write> writes;
  bool found = false;
  for (auto& [name, a] : it->second->points) {
    auto s = a.sets.find(set.name);
    if (s == a.sets.end()) continue;
    found = true;
    const auto& spec = a.set_specs.at(set.name);
    for (int pass = 0; pass < 2; ++pass)
      for (const auto& el : pass ? add : del) {
        auto enc = opt_.encode_set_element(spec, set, el);
        if (!enc) return wrap(enc.error(), "set '" + set.name + "'");
        for (auto& e : *enc) writes.push_back(Write{s->second.get(), std::move(e), pass == 0});
      }
  }
  if (!found) return make_error(ENOENT, "no program of '" + key + "' uses set '" + set.name + "'");
  for (const auto& w : writes) {
    int rc = w.del ? bpf_map_delete_elem(w.fd, w.e.key.data())
                   : bpf_map_update_elem(w.fd, w.e.key.data(), w.e.value.data(), BPF_ANY);
    if (rc != 0 && !(w.del && errno == ENOENT)) {
      int err = errno;
      return make_error(err, "set '" + set.name + "': cannot " + (w.del ? "delete" : "add") + " element: " +
                                 strerror(err) + (err == E2BIG ? " (set is full)" : ""));
    }
  }
  return {};
}

Result<std::vector<std::string>> Engine::restore() {
  if (opt_.bpffs.empty()) return make_error(EINVAL, "no bpffs directory configured");
  if (!is_bpffs(opt_.bpffs)) return make_error(ENOTDIR, opt_.bpffs + " is not a mounted bpf filesystem");
  std::vector<std::string> keys;
  for (const auto& key : list_dir(opt_.bpffs, true)) {
    auto entry = std::make_unique<Entry>();
    for (const auto& name : list_dir(dir_of(key), true)) {
      std::string d = dir_of(key) + "/" + name;
      Attachment a;
      a.name = name;
      auto link = open_pinned(d + "/link");
      auto progs = open_pinned(d + "/progs");
      auto meta_map = open_pinned(d + "/meta");
      if (!link || !progs || !meta_map)
        return make_error(EIO, "pinned attachment " + d + " is incomplete (needs link, progs, meta)");
      auto meta = load_meta(meta_map->get());
      if (!meta) return wrap(meta.error(), d);
      a.link = std::move(link.value());
      a.progs = std::move(progs.value());
      a.meta_map = std::move(meta_map.value());
      a.meta = std::move(meta.value());
      if (uint32_t id = slot_prog_id(a.progs.get())) a.prog.reset(bpf_prog_get_fd_by_id(id));
      if (auto c = open_pinned(d + "/counters")) a.counters = std::move(c.value());
      if (auto l = open_pinned(d + "/log")) a.log = std::move(l.value());
      for (const auto& n : list_dir(d, false)) {
        if (n.rfind("set_", 0) != 0) continue;
        auto s = open_pinned(d + "/" + n);
        if (!s) continue;
        std::string set = n.substr(4);
        a.set_specs[set] = spec_of_map(s->get(), set);
        a.sets[set] = std::move(s.value());
      }
      entry->points.emplace(name, std::move(a));
    }
    if (entry->points.empty()) continue;
    entries_[key] = std::move(entry);
    ct_users_.insert(key);  // its IR is not known here: keep conntrack as the previous daemon left it
    keys.push_back(key);
  }
  return keys;
}

std::vector<std::string> Engine::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, e] : entries_) out.push_back(k);
  return out;
}

std::vector<std::string> Engine::attachment_names(const std::string& key) const {
  std::vector<std::string> out;
  if (auto it = entries_.find(key); it != entries_.end())
    for (const auto& [n, a] : it->second->points) out.push_back(n);
  return out;
}

std::map<std::string, uint32_t> Engine::program_ids(const std::string& key) const {
  std::map<std::string, uint32_t> out;
  if (auto it = entries_.find(key); it != entries_.end())
    for (const auto& [n, a] : it->second->points) {
      bpf_prog_info info{};
      uint32_t len = sizeof(info);
      uint32_t id = 0;
      if (a.prog.valid() && bpf_obj_get_info_by_fd(a.prog.get(), &info, &len) == 0) id = info.id;
      else id = slot_prog_id(a.progs.get());
      out[n] = id;
    }
  return out;
}

std::vector<Engine::LogRing> Engine::log_rings() const {
  std::vector<LogRing> out;
  for (const auto& [k, e] : entries_)
    for (const auto& [n, a] : e->points)
      if (a.log.valid()) out.push_back(LogRing{a.log.get(), &a.meta.logs, &a.meta.slots});
  return out;
}

}  // namespace nfjit::runtime
