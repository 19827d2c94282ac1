#include "frontend/xtables/lower.h"

#include <linux/netfilter.h>

#include <functional>
#include <map>
#include <string_view>
#include <unordered_map>

#include "frontend/xtables/decode/extension.h"
#include "frontend/xtables/decode/ip_header.h"
#include "frontend/xtables/extension_check.h"
#include "frontend/xtables/tables.h"

namespace nfjit::xt {
namespace {

std::string verdict_text(int32_t v) {
  if (v == -NF_ACCEPT - 1) return "ACCEPT";
  if (v == -NF_DROP - 1) return "DROP";
  if (v == XT_RETURN) return "RETURN";
  if (v == -NF_QUEUE - 1) return "QUEUE";
  return "?";
}

struct ChainSpan {
  std::string name;
  size_t first = 0;   // first rule entry
  size_t end = 0;     // the policy / RETURN tail entry (one past the last rule)
  int hook = -1;      // built-in chains
};

class Lowerer {
 public:
  Lowerer(const Table& t, int32_t prio, const PreviousLowering* prev) : t_(t), prio_(prio), prev_(prev) {
    if (prev_)
      for (size_t i = 0; i < prev_->table.chains.size(); ++i)
        prev_chains_.emplace(prev_->table.chains[i].name, i);
    out_.table.name = t.name;
    out_.table.family = t.abi->family;
    out_.slots.assign(t.entries.size(), std::nullopt);
  }

  Lowered run() {
    if (!find_chains()) return std::move(out_);
    for (const ChainSpan& c : chains_) lower_chain(c);
    if (!out_.ok()) out_.table = ir::Table{t_.name, t_.abi->family, {}, {}};
    return std::move(out_);
  }

 private:
  void refuse(std::string rule, std::string reason) { out_.refusals.push_back({std::move(rule), std::move(reason)}); }

  // Split the entries into chains, checking the libiptc shape.
  bool find_chains() {
    const auto& es = t_.entries;
    std::vector<int> hook_at(es.size(), -1);
    for (unsigned h = 0; h < kNumHooks; ++h)
      if (t_.valid_hooks & (1u << h)) hook_at[t_.index_at(t_.hook_entry[h])] = static_cast<int>(h);
    size_t i = 0;
    while (i < es.size()) {
      if (hook_at[i] >= 0) {
        unsigned h = hook_at[i];
        int uf = t_.index_at(t_.underflow[h]);
        if (uf < static_cast<int>(i)) return shape("underflow of " + std::string(hook_chain_name(h)) + " before its entry");
        for (size_t k = i + 1; k <= static_cast<size_t>(uf); ++k)
          if (hook_at[k] >= 0 || es[k].error) return shape("built-in chain " + std::string(hook_chain_name(h)) + " overlaps another chain");
        chains_.push_back({hook_chain_name(h), i, static_cast<size_t>(uf), static_cast<int>(h)});
        i = uf + 1;
      } else if (es[i].error) {
        if (i + 1 == es.size()) {
          if (es[i].error_name != XT_ERROR_TARGET) return shape("the table does not end with an ERROR entry");
          break;
        }
        size_t k = i + 1;
        while (k < es.size() && !es[k].error && hook_at[k] < 0) ++k;
        size_t tail = k - 1;
        if (tail == i || !(es[tail].standard && es[tail].unconditional && es[tail].verdict == XT_RETURN))
          return shape("user chain " + es[i].error_name + " does not end with an unconditional RETURN");
        heads_[es[i].offset + es[i].next_offset] = es[i].error_name;
        chains_.push_back({es[i].error_name, i + 1, tail, -1});
        i = k;
      } else {
        return shape("entry " + std::to_string(i) + " belongs to no chain");
      }
    }
    if (es.empty() || !es.back().error) return shape("the table does not end with an ERROR entry");
    return true;
  }

  bool shape(const std::string& why) {
    refuse(t_.name + " table", "blob is not in the layout iptables writes: " + why);
    return false;
  }

  void lower_chain(const ChainSpan& c) {
    ir::Chain chain;
    chain.name = c.name;
    const Entry& end = t_.entries[c.end];
    if (c.hook >= 0) {
      ir::BaseChain b;
      b.hook = hook_to_ir(c.hook);
      b.priority = prio_;
      b.policy = end.verdict == -NF_DROP - 1 ? ir::Policy::Drop : ir::Policy::Accept;
      chain.base = b;
    }
    out_.slots[c.end] = codegen::CounterSlot{c.name, -1};
    for (size_t i = c.first; i < c.end; ++i) {
      int32_t idx = static_cast<int32_t>(chain.rules.size());
      auto r = lower_rule(i, c.name);
      if (!r) continue;
      out_.slots[i] = codegen::CounterSlot{c.name, idx};
      chain.rules.push_back(std::move(*r));
    }
    out_.table.chains.push_back(std::move(chain));
  }

  // The previous lowering's rule for entry i, when its entry is the same and not a jump.
  const ir::Rule* previous_rule(size_t i, const std::string& chain) const {
    if (!prev_ || i >= prev_->same.size() || prev_->same[i] < 0) return nullptr;
    const Entry& e = t_.entries[i];
    if (e.standard && e.verdict >= 0) return nullptr;  // a byte offset: its meaning moves with the table
    size_t old = static_cast<size_t>(prev_->same[i]);
    if (old >= prev_->slots.size() || !prev_->slots[old]) return nullptr;
    const auto& slot = *prev_->slots[old];
    if (slot.chain != chain || slot.rule < 0) return nullptr;
    auto c = prev_chains_.find(slot.chain);
    if (c == prev_chains_.end()) return nullptr;
    const auto& rules = prev_->table.chains[c->second].rules;
    return static_cast<size_t>(slot.rule) < rules.size() ? &rules[static_cast<size_t>(slot.rule)] : nullptr;
  }

  std::optional<ir::Rule> lower_rule(size_t i, const std::string& chain) {
    if (const ir::Rule* r = previous_rule(i, chain)) return *r;
    const Entry& e = t_.entries[i];
    ir::Rule rule;
    rule.origin = rule_text(t_, i, chain);
    auto bytes = t_.entry_bytes(e);
    RuleContext ctx = rule_context(t_, e);
    bool failed = false;
    auto fail = [&](const std::string& why) {
      refuse(rule.origin, why);
      failed = true;
    };
    if (auto ip = decode_ip_part(*t_.abi, bytes); ip.ok()) rule.matches = std::move(ip.value());
    else fail(ip.error().message);
    for (const ExtRef& m : e.matches) {
      const Extension* x = find_extension(false, m.name, m.revision, ctx.family);
      if (!x || !x->decode_match) {
        fail(unsupported_reason(false, m.name, m.revision));
        continue;
      }
      // Entries after an extension the kernel must judge were not checked: decode only checked data.
      if (xt_align(x->size) != m.data_size() || (x->check && x->check(t_.ext_data(e, m), ctx))) {
        fail("match " + m.name + " fails the kernel's checks");
        continue;
      }
      auto d = x->decode_match(t_.ext_data(e, m), ctx);
      if (!d.ok()) fail(d.error().message);
      else for (auto& mm : d.value()) rule.matches.push_back(std::move(mm));
    }
    if (e.error) {
      fail("an ERROR entry inside a chain drops the packet; the IR has no such action");
    } else if (e.standard) {
      if (e.verdict >= 0) {
        auto it = heads_.find(static_cast<uint32_t>(e.verdict));
        if (static_cast<uint32_t>(e.verdict) == e.offset + e.next_offset) {
          rule.action.kind = ir::ActionKind::Continue;
        } else if (it != heads_.end()) {
          rule.action.kind = ip_part_goto(*t_.abi, bytes) ? ir::ActionKind::Goto : ir::ActionKind::Jump;
          rule.action.target = it->second;
        } else {
          fail("jump into the middle of a chain");
        }
      } else if (e.verdict == -NF_ACCEPT - 1) {
        rule.action.kind = ir::ActionKind::Accept;
      } else if (e.verdict == -NF_DROP - 1) {
        rule.action.kind = ir::ActionKind::Drop;
      } else if (e.verdict == XT_RETURN) {
        rule.action.kind = ir::ActionKind::Return;
      } else {
        fail("verdict " + verdict_text(e.verdict) + ": the IR has no queue action");
      }
    } else {
      const Extension* x = find_extension(true, e.target.name, e.target.revision, ctx.family);
      if (!x || !x->decode_target) {
        fail(unsupported_reason(true, e.target.name, e.target.revision));
      } else if (xt_align(x->size) != e.target.data_size() || (x->check && x->check(t_.ext_data(e, e.target), ctx))) {
        fail("target " + e.target.name + " fails the kernel's checks");
      } else if (auto a = x->decode_target(t_.ext_data(e, e.target), ctx); a.ok()) {
        rule.action = std::move(a.value());
      } else {
        fail(a.error().message);
      }
    }
    if (failed) return std::nullopt;
    return rule;
  }

  const Table& t_;
  int32_t prio_;
  const PreviousLowering* prev_;
  std::unordered_map<std::string, size_t> prev_chains_;
  Lowered out_;
  std::vector<ChainSpan> chains_;
  std::map<uint32_t, std::string> heads_;  // offset of a user chain's first entry -> its name
};

// Name of the chain a jump at `verdict` enters, from the ERROR head right before it.
std::string chain_at(const Table& t, int32_t verdict) {
  for (size_t i = 0; i + 1 < t.entries.size(); ++i)
    if (t.entries[i].error && t.entries[i].offset + t.entries[i].next_offset == static_cast<uint32_t>(verdict))
      return t.entries[i].error_name;
  return "@" + std::to_string(verdict);
}

}  // namespace

std::string rule_text(const Table& t, size_t index, const std::string& chain) {
  const Entry& e = t.entries[index];
  auto bytes = t.entry_bytes(e);
  RuleContext ctx = rule_context(t, e);
  std::string s = "-A " + chain + describe_ip_part(*t.abi, bytes);
  for (const ExtRef& m : e.matches) {
    const Extension* x = find_extension(false, m.name, m.revision, ctx.family);
    s += " " + (x && x->describe ? x->describe(t.ext_data(e, m), ctx) : "-m " + m.name);
  }
  if (e.standard) {
    if (e.verdict >= 0) s += std::string(ip_part_goto(*t.abi, bytes) ? " -g " : " -j ") + chain_at(t, e.verdict);
    else s += " -j " + verdict_text(e.verdict);
  } else {
    const Extension* x = find_extension(true, e.target.name, e.target.revision, ctx.family);
    s += " " + (x && x->describe ? x->describe(t.ext_data(e, e.target), ctx) : "-j " + e.target.name);
  }
  return s;
}

Lowered lower_table(const Table& t, int32_t priority, const PreviousLowering* prev) {
  return Lowerer(t, priority, prev).run();
}

namespace {

// The bytes of an entry that a replace means: all but comefrom and the counters.
struct EntryKey {
  std::string_view head, tail;
  uint32_t comefrom;
  bool operator==(const EntryKey& o) const { return comefrom == o.comefrom && head == o.head && tail == o.tail; }
};

struct EntryKeyHash {
  size_t operator()(const EntryKey& k) const {
    size_t h = std::hash<std::string_view>{}(k.head);
    h ^= std::hash<std::string_view>{}(k.tail) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h ^ k.comefrom;
  }
};

EntryKey key_of(const Table& t, const Entry& e) {
  const FamilyAbi& abi = *t.abi;
  const char* b = reinterpret_cast<const char*>(t.blob.data()) + e.offset;
  size_t tail_from = abi.off_counters + sizeof(xt_counters);
  return EntryKey{std::string_view(b, abi.off_comefrom), std::string_view(b + tail_from, e.next_offset - tail_from),
                  e.comefrom};
}

}  // namespace

std::vector<int32_t> match_previous(const Table& prev, const Table& t) {
  std::vector<int32_t> out(t.entries.size(), -1);
  if (prev.abi != t.abi || prev.name != t.name) return out;
  std::unordered_map<EntryKey, int32_t, EntryKeyHash> old;
  old.reserve(prev.entries.size());
  for (size_t i = 0; i < prev.entries.size(); ++i) old.emplace(key_of(prev, prev.entries[i]), static_cast<int32_t>(i));
  for (size_t i = 0; i < t.entries.size(); ++i)
    if (auto it = old.find(key_of(t, t.entries[i])); it != old.end()) out[i] = it->second;
  return out;
}

}  // namespace nfjit::xt
