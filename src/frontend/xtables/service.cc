#include "frontend/xtables/service.h"

#include <algorithm>

#include "frontend/xtables/entries_reply.h"
#include "frontend/xtables/extension_check.h"
#include "frontend/xtables/stage_times.h"
#include "frontend/xtables/tables.h"

namespace nfjit::xt {

namespace {

// A fixed-size request struct from the caller's buffer (zero-padded when the buffer is shorter).
template <typename T>
T request_struct(const SockoptRequest& req) {
  T v{};
  std::memcpy(&v, req.data.data(), std::min(sizeof(T), req.data.size()));
  return v;
}

template <typename T>
std::vector<uint8_t> bytes_of(const T* p, size_t n) {
  auto* b = reinterpret_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + n * sizeof(T));
}

std::string terminated(const char* name, size_t max) { return std::string(name, strnlen(name, max - 1)); }

// The slots that count something, in entry order (what the sink is asked about).
std::vector<codegen::CounterSlot> counted(const std::vector<std::optional<codegen::CounterSlot>>& slots) {
  std::vector<codegen::CounterSlot> out;
  out.reserve(slots.size());
  for (const auto& sl : slots)
    if (sl) out.push_back(*sl);
  return out;
}

// Per entry: the value of its slot in `vals` (one per counted slot, in entry order), 0 where none.
std::vector<xt_counters> per_entry(const std::vector<std::optional<codegen::CounterSlot>>& slots,
                                   const std::vector<codegen::CounterValue>& vals) {
  std::vector<xt_counters> out(slots.size(), xt_counters{});
  size_t k = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    if (!slots[i]) continue;
    if (k < vals.size()) out[i] = xt_counters{vals[k].packets, vals[k].bytes};
    ++k;
  }
  return out;
}

std::string join(const std::vector<Refusal>& rs) {
  std::string s;
  for (const auto& r : rs) s += (s.empty() ? "" : "; ") + r.rule + ": " + r.reason;
  return s;
}

}  // namespace

XtablesService::XtablesService(TableSink& sink, KernelXtables& kernel, ServiceOptions opts)
    : sink_(sink), kernel_(kernel), opts_(opts) {}

SockoptReply XtablesService::fail(const Error& e) {
  last_message_ = e.message;
  SockoptReply r;
  r.err = e.err;
  return r;
}

SockoptReply XtablesService::handle(const SockoptRequest& req) {
  last_message_.clear();
  const FamilyAbi* abi = abi_for_level(req.level);
  if (!abi) return fail(make_error(ENOPROTOOPT, "not an xtables level"));
  if (req.set) {
    if (req.optname == IPT_SO_SET_REPLACE) return set_replace(*abi, req);
    if (req.optname == IPT_SO_SET_ADD_COUNTERS) return add_counters(*abi, req);
    return fail(make_error(ENOPROTOOPT, "unknown set option"));
  }
  switch (req.optname) {
    case IPT_SO_GET_INFO: return get_info(*abi, req);
    case IPT_SO_GET_ENTRIES: return get_entries(*abi, req);
    default: break;
  }
  // Revisions: IPv4 66/67, but IPv6 68/69 (IP6T_SO_GET_REVISION_*; ip6_tables has no 66/67).
  // Which extensions and revisions exist is the kernel's answer: a table nfjit cannot lower goes to the
  // kernel, so nfjit never accepts what the kernel would not.
  bool v6 = abi->family == ir::Family::Ipv6;
  if (req.optname == (v6 ? IP6T_SO_GET_REVISION_MATCH : IPT_SO_GET_REVISION_MATCH) ||
      req.optname == (v6 ? IP6T_SO_GET_REVISION_TARGET : IPT_SO_GET_REVISION_TARGET))
    return kernel_.forward(req);
  return fail(make_error(ENOPROTOOPT, "unknown get option"));
}

Result<XtablesService::State*> XtablesService::lowered_state(const FamilyAbi& abi, const std::string& name) {
  const TableSpec* spec = find_table_spec(name);
  if (!spec || !spec->lowered) return static_cast<State*>(nullptr);
  auto key = std::make_pair(abi.family, name);
  if (auto it = tables_.find(key); it != tables_.end()) return &it->second;
  // First use: the kernel would create the table with its bootstrap contents right now; so does nfjit.
  State s;
  s.first_use = ++use_seq_;
  s.table = bootstrap_table(abi, *spec);
  Lowered low = lower_table(s.table, spec->priority);
  s.slots = low.slots;
  s.base.assign(s.table.entries.size(), xt_counters{});
  if (auto r = sink_.install(abi.family, name, low.table, {}, counted(s.slots)); !r.ok()) {
    if (opts_.strict) return r.error();
    s.kernel = true;
    s.why = "installing the BPF program failed: " + r.error().message;
  } else {
    s.zero = per_entry(s.slots, r->start);
    s.lowered = std::move(low.table);
  }
  State* out = &tables_.emplace(key, std::move(s)).first->second;
  persist(abi.family, name);
  return out;
}

Result<std::vector<xt_counters>> XtablesService::live_counters(const FamilyAbi& abi, const std::string& name,
                                                              const State& s) {
  auto vals = sink_.counters(abi.family, name, counted(s.slots));
  if (!vals.ok()) return vals.error();
  return shown_counters(s, *vals);
}

std::vector<xt_counters> XtablesService::shown_counters(const State& s, const std::vector<codegen::CounterValue>& live) {
  // base + live - zero, per entry; unsigned arithmetic: live never goes below zero of its program.
  std::vector<xt_counters> out(s.base);
  size_t k = 0;
  for (size_t i = 0; i < s.slots.size(); ++i) {
    if (!s.slots[i]) continue;
    if (k < live.size()) {
      out[i].pcnt += live[k].packets;
      out[i].bcnt += live[k].bytes;
      if (i < s.zero.size()) {
        out[i].pcnt -= s.zero[i].pcnt;
        out[i].bcnt -= s.zero[i].bcnt;
      }
    }
    ++k;
  }
  return out;
}

SockoptReply XtablesService::get_info(const FamilyAbi& abi, const SockoptRequest& req) {
  if (req.optlen != sizeof(ipt_getinfo)) return fail(make_error(EINVAL, "GET_INFO: wrong length"));
  auto gi = request_struct<ipt_getinfo>(req);
  std::string name = terminated(gi.name, sizeof gi.name);
  auto st = lowered_state(abi, name);
  if (!st.ok()) return fail(st.error());
  if (!*st) {
    // nat & co.: the kernel's answer; a table it answers for now exists in its list.
    SockoptReply r = kernel_.forward(req);
    if (r.err == 0) note_kernel_table(abi, name);
    return r;
  }
  if ((*st)->kernel) return kernel_.forward(req);
  const Table& t = (*st)->table;
  ipt_getinfo info{};
  std::strncpy(info.name, name.c_str(), sizeof info.name - 1);
  info.valid_hooks = t.valid_hooks;
  for (unsigned h = 0; h < kNumHooks; ++h) {
    info.hook_entry[h] = t.hook_entry[h];
    info.underflow[h] = t.underflow[h];
  }
  info.num_entries = static_cast<uint32_t>(t.entries.size());
  info.size = static_cast<uint32_t>(t.blob.size());
  SockoptReply r;
  r.data = bytes_of(&info, 1);
  return r;
}

SockoptReply XtablesService::get_entries(const FamilyAbi& abi, const SockoptRequest& req) {
  if (req.optlen < sizeof(ipt_get_entries)) return fail(make_error(EINVAL, "GET_ENTRIES: short buffer"));
  auto ge = request_struct<ipt_get_entries>(req);
  if (req.optlen != sizeof(ipt_get_entries) + static_cast<uint64_t>(ge.size))
    return fail(make_error(EINVAL, "GET_ENTRIES: length does not match size"));
  std::string name = terminated(ge.name, sizeof ge.name);
  auto st = lowered_state(abi, name);
  if (!st.ok()) return fail(st.error());
  if (!*st || (*st)->kernel) return kernel_.forward(req);
  State& s = **st;
  if (ge.size != s.table.blob.size()) return fail(make_error(EAGAIN, "GET_ENTRIES: table changed size"));
  StageTimes times;
  auto c = live_counters(abi, name, s);
  if (!c.ok()) return fail(c.error());
  times.mark("counters");
  SockoptReply r;
  r.data = entries_reply(s.table, *c, req.data);
  times.mark("entries");
  if (opts_.debug) opts_.debug("xt GET_ENTRIES " + name + " (" + std::to_string(s.table.entries.size()) +
                               " entries): " + times.text());
  return r;
}

SockoptReply XtablesService::to_kernel(const FamilyAbi& abi, const SockoptRequest& req, const Table& t, State& s,
                                       std::string why) {
  auto hdr = parse_replace_header(req.data);  // already validated by the caller
  std::vector<xt_counters> old;
  if (!s.kernel) {
    // The client counted nfjit's entries; the kernel's table is the bootstrap nfjit left there.
    if (hdr->num_counters != s.table.entries.size()) return fail(make_error(EAGAIN, "table changed meanwhile"));
    auto live = live_counters(abi, t.name, s);
    if (!live.ok()) return fail(live.error());
    auto ki = kernel_.info(abi, t.name);
    if (!ki.ok()) return fail(ki.error());
    auto r = kernel_.replace(abi, req.data, ki->num_entries);
    if (!r.ok()) return fail(r.error());
    old = std::move(*live);
    if (auto rm = sink_.remove(abi.family, t.name); !rm.ok()) why += " (removing the BPF program: " + rm.error().message + ")";
    s.kernel = true;
    s.slots.clear();
    s.lowered = ir::Table{};
    s.base.clear();
    s.zero.clear();
  } else {
    auto r = kernel_.replace(abi, req.data);
    if (!r.ok()) return fail(r.error());
    old = std::move(*r);
  }
  s.why = why;
  last_message_ = "table " + t.name + " runs in the kernel: " + why;
  persist(abi.family, t.name);
  SockoptReply rep;
  rep.old_counters = bytes_of(old.data(), old.size());
  return rep;
}

SockoptReply XtablesService::set_replace(const FamilyAbi& abi, const SockoptRequest& req) {
  StageTimes times;
  auto hdr = parse_replace_header(req.data);
  if (!hdr.ok()) return fail(hdr.error());
  std::vector<uint8_t> blob(req.data.begin() + sizeof(ipt_replace), req.data.begin() + sizeof(ipt_replace) + hdr->size);
  times.mark("copy");
  auto t = validate_structure(abi, *hdr, std::move(blob));
  if (!t.ok()) return fail(t.error());
  times.mark("validate");
  // Entries that did not change since the table in force (iptables resends every rule for a one-rule
  // change) are neither checked nor decoded again.
  const State* running = nullptr;
  if (auto it = tables_.find({abi.family, hdr->name}); it != tables_.end() && !it->second.kernel)
    running = &it->second;
  std::vector<int32_t> same;
  if (running) same = match_previous(running->table, *t);
  times.mark("match previous");
  auto ext = check_extensions(*t, running ? &same : nullptr);
  if (!ext.ok()) return fail(ext.error());
  times.mark("extension checks");

  const TableSpec* spec = find_table_spec(hdr->name);
  auto st = lowered_state(abi, hdr->name);
  if (!st.ok()) return fail(st.error());
  if (!*st) {
    // nat, or a name that is not a table nfjit serves: the kernel's, verbatim.
    auto r = kernel_.replace(abi, req.data);
    if (!r.ok()) return fail(r.error());
    note_kernel_table(abi, hdr->name);
    SockoptReply rep;
    rep.data = bytes_of(r->data(), r->size());
    return rep;
  }
  State& s = **st;
  if (hdr->valid_hooks != spec->valid_hooks) return fail(make_error(EINVAL, "valid_hooks differ from the table's"));

  std::string why;
  Lowered low;
  // Lowering names every rule it cannot express (an extension nfjit does not know among them).
  if (running && running == &s) {
    PreviousLowering prev{s.lowered, s.slots, same};
    low = lower_table(*t, spec->priority, &prev);
  } else {
    low = lower_table(*t, spec->priority);
  }
  times.mark("lower");
  if (!low.ok()) why = join(low.refusals);
  else if (ext->unknown) why = unsupported_reason(ext->unknown_is_target, ext->unknown_name, ext->unknown_revision);
  if (!why.empty()) {
    if (!opts_.strict) return to_kernel(abi, req, *t, s, why);
    if (ext->unknown) {
      // The kernel's answer for an extension it does not have either.
      auto rev = kernel_.revision(abi, ext->unknown_is_target, ext->unknown_name, ext->unknown_revision);
      if (!rev.ok() && rev.error().err == ENOENT) return fail(make_error(ENOENT, *ext->unknown + ": no such extension"));
    }
    last_refusal_ = "nfjit --strict refused table " + t->name + " (" + (abi.family == ir::Family::Ipv6 ? "ip6" : "ip") +
                    "): " + why;
    return fail(make_error(EOPNOTSUPP, "nfjit --strict refuses table " + t->name + ": " + why));
  }

  std::vector<xt_counters> old;
  uint32_t kernel_entries = 0;
  if (s.kernel) {
    auto ki = kernel_.info(abi, t->name);
    if (!ki.ok()) return fail(ki.error());
    kernel_entries = ki->num_entries;
    if (hdr->num_counters != kernel_entries) return fail(make_error(EAGAIN, "table changed meanwhile"));
    auto kc = kernel_.counters(abi, t->name);
    if (!kc.ok()) return fail(kc.error());
    old = std::move(*kc);
  } else if (hdr->num_counters != s.table.entries.size()) {
    return fail(make_error(EAGAIN, "table changed meanwhile"));
  }
  // The old counters are read by the sink once the new version is in force: nothing counted in between
  // is lost. A program the sink keeps (its chains did not change) goes on counting from `start`.
  auto new_slots = counted(low.slots);
  auto installed = sink_.install(abi.family, t->name, low.table, s.kernel ? std::vector<codegen::CounterSlot>{}
                                                                          : counted(s.slots), new_slots);
  if (!installed.ok()) {
    if (opts_.strict) return fail(installed.error());
    return to_kernel(abi, req, *t, s, "the BPF program could not be installed: " + installed.error().message);
  }
  times.mark("install");
  if (!installed->timings.empty()) times.add("(sink: " + installed->timings + ")", 0);
  if (!s.kernel) old = shown_counters(s, installed->old);
  if (s.kernel) {
    // The rules now run as BPF: leave the kernel's table holding nothing but its bootstrap.
    ReplaceHeader bh = bootstrap_header(abi, *spec);
    std::vector<uint8_t> opt(sizeof(ipt_replace) + bh.size, 0);
    auto* r = reinterpret_cast<ipt_replace*>(opt.data());
    std::strncpy(r->name, spec->name, sizeof r->name - 1);
    r->valid_hooks = bh.valid_hooks;
    r->num_entries = bh.num_entries;
    r->size = bh.size;
    for (unsigned h = 0; h < kNumHooks; ++h) {
      r->hook_entry[h] = bh.hook_entry[h];
      r->underflow[h] = bh.underflow[h];
    }
    auto boot = bootstrap_blob(abi, *spec);
    std::memcpy(opt.data() + sizeof(ipt_replace), boot.data(), boot.size());
    if (auto k = kernel_.replace(abi, opt, kernel_entries); !k.ok())
      last_message_ = "could not empty the kernel's " + t->name + " table: " + k.error().message;
  }
  s.kernel = false;
  s.why.clear();
  s.table = std::move(*t);
  s.slots = std::move(low.slots);
  s.lowered = std::move(low.table);
  s.base.assign(s.table.entries.size(), xt_counters{});
  s.zero = per_entry(s.slots, installed->start);
  times.mark("old counters");
  persist(abi.family, s.table.name);
  times.mark("persist");
  SockoptReply rep;
  rep.old_counters = bytes_of(old.data(), old.size());
  if (opts_.debug) opts_.debug("xt SET_REPLACE " + s.table.name + " (" + std::to_string(s.table.entries.size()) +
                               " entries, " + std::to_string(s.table.blob.size()) + " bytes): " + times.text());
  return rep;
}

SockoptReply XtablesService::add_counters(const FamilyAbi& abi, const SockoptRequest& req) {
  // xt_copy_counters(): header, then exactly num_counters counters.
  if (req.data.size() < sizeof(xt_counters_info)) return fail(make_error(EINVAL, "ADD_COUNTERS: short"));
  auto info = request_struct<xt_counters_info>(req);
  if (static_cast<uint64_t>(info.num_counters) * sizeof(xt_counters) != req.data.size() - sizeof(xt_counters_info))
    return fail(make_error(EINVAL, "ADD_COUNTERS: size does not match num_counters"));
  std::string name = terminated(info.name, sizeof info.name);
  auto st = lowered_state(abi, name);
  if (!st.ok()) return fail(st.error());
  if (!*st || (*st)->kernel) return kernel_.forward(req);
  State& s = **st;
  if (info.num_counters != s.table.entries.size()) return fail(make_error(EINVAL, "ADD_COUNTERS: wrong count"));
  StageTimes times;
  std::span<const uint8_t> b(req.data);
  bool changed = false;
  for (size_t i = 0; i < s.base.size(); ++i) {
    auto c = load<xt_counters>(b, sizeof(xt_counters_info) + i * sizeof(xt_counters));
    s.base[i].pcnt += c.pcnt;
    s.base[i].bcnt += c.bcnt;
    changed |= c.pcnt != 0 || c.bcnt != 0;
  }
  times.mark("add");
  // Adding zeros (a table that never saw a packet) changes nothing worth a write.
  if (changed) persist(abi.family, name);
  times.mark(changed ? "persist" : "persist (nothing changed)");
  if (opts_.debug) opts_.debug("xt SET_ADD_COUNTERS " + name + " (" + std::to_string(s.base.size()) + " entries): " +
                               times.text());
  return SockoptReply{};
}

void XtablesService::note_kernel_table(const FamilyAbi& abi, const std::string& name) {
  // Only the first use counts, as in the kernel's list (newest table first).
  auto [it, inserted] = kernel_tables_.try_emplace({abi.family, name}, 0);
  if (inserted) {
    it->second = ++use_seq_;
    persist(abi.family, name);
  }
}

void XtablesService::persist(ir::Family family, const std::string& name) {
  if (!opts_.store) return;
  SavedTable t;
  t.family = family;
  t.name = name;
  if (auto it = tables_.find({family, name}); it != tables_.end()) {
    const State& s = it->second;
    t.first_use = s.first_use;
    t.why = s.why;
    if (s.kernel) {
      t.mode = SavedTable::kKernel;
    } else {
      t.mode = SavedTable::kBpf;
      t.header.name = name;
      t.header.valid_hooks = s.table.valid_hooks;
      t.header.num_entries = static_cast<uint32_t>(s.table.entries.size());
      t.header.size = static_cast<uint32_t>(s.table.blob.size());
      t.header.hook_entry = s.table.hook_entry;
      t.header.underflow = s.table.underflow;
      t.blob = s.table.blob;
      t.base = s.base;
      t.zero = s.zero;
    }
  } else if (auto k = kernel_tables_.find({family, name}); k != kernel_tables_.end()) {
    t.mode = SavedTable::kKernelOnly;
    t.first_use = k->second;
  } else {
    return;
  }
  if (auto ok = opts_.store->save(t); !ok && opts_.warn)
    opts_.warn("table " + name + " changed but its state was not saved: " + ok.error().message);
}

std::vector<std::string> XtablesService::restore() {
  std::vector<std::string> log;
  if (!opts_.store) return log;
  for (auto& saved : opts_.store->load_all(&log)) {
    use_seq_ = std::max(use_seq_, saved.first_use);
    const FamilyAbi& abi = abi_for(saved.family);
    std::string what = std::string(saved.family == ir::Family::Ipv6 ? "ip6 " : "ip ") + saved.name;
    if (saved.mode == SavedTable::kKernelOnly) {
      kernel_tables_[{saved.family, saved.name}] = saved.first_use;
      continue;
    }
    const TableSpec* spec = find_table_spec(saved.name);
    if (!spec || !spec->lowered) {
      log.push_back(what + ": saved state ignored, not a table nfjit lowers");
      continue;
    }
    State s;
    s.first_use = saved.first_use;
    if (saved.mode == SavedTable::kKernel) {
      // The kernel's ip_tables of this namespace still holds the rules: nothing to do but remember.
      s.kernel = true;
      s.why = saved.why;
      tables_[{saved.family, saved.name}] = std::move(s);
      log.push_back(what + ": in the kernel's ip_tables (" + saved.why + ")");
      continue;
    }
    auto t = validate_structure(abi, saved.header, saved.blob);
    if (!t.ok()) {
      log.push_back(what + ": saved table is not valid any more (" + t.error().message + "); left out");
      continue;
    }
    Lowered low = lower_table(*t, spec->priority);
    if (!low.ok() || saved.base.size() != t->entries.size()) {
      log.push_back(what + ": saved table cannot be lowered any more (" + join(low.refusals) + "); left out");
      continue;
    }
    auto slots = counted(low.slots);
    std::vector<xt_counters> zero;
    if (sink_.running(saved.family, saved.name, slots)) {
      log.push_back(what + ": BPF program adopted from its pins, counters continue (" +
                    std::to_string(t->entries.size()) + " entries)");
      zero = saved.zero;
    } else if (auto r = sink_.install(saved.family, saved.name, low.table, {}, slots); r.ok()) {
      // Nothing pinned (bpffs lost, e.g. after a reboot) or a program of another version: the saved
      // table is what the clients last set, so it is what must run. Counters continue from the base
      // (what the lost program counted is lost with it).
      log.push_back(what + ": BPF program installed again from the saved table");
      zero = per_entry(low.slots, r->start);
    } else {
      log.push_back(what + ": BPF program could not be installed from the saved table: " + r.error().message);
      continue;
    }
    s.table = std::move(*t);
    s.slots = std::move(low.slots);
    s.lowered = std::move(low.table);
    s.base = std::move(saved.base);
    s.zero = std::move(zero);
    s.zero.resize(s.base.size(), xt_counters{});
    tables_[{saved.family, saved.name}] = std::move(s);
  }
  return log;
}

std::vector<KnownTable> XtablesService::known_tables(ir::Family family) const {
  std::vector<KnownTable> out;
  for (const auto& [k, s] : tables_)
    if (k.first == family) out.push_back({k.second, s.first_use, !s.kernel});
  for (const auto& [k, seq] : kernel_tables_)
    if (k.first == family) out.push_back({k.second, seq, false});
  std::sort(out.begin(), out.end(), [](const KnownTable& a, const KnownTable& b) { return a.first_use > b.first_use; });
  return out;
}

std::vector<TableStatus> XtablesService::status() const {
  std::vector<TableStatus> out;
  for (const auto& [k, s] : tables_) out.push_back({k.first, k.second, !s.kernel, s.why});
  for (const auto& [k, seq] : kernel_tables_)
    out.push_back({k.first, k.second, false,
                   k.second == "nat" ? "nfjit never lowers nat: address translation stays in the kernel"
                                     : "not a table nfjit lowers"});
  return out;
}

}  // namespace nfjit::xt
