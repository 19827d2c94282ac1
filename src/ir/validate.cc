#include "ir/validate.h"

#include <map>
#include <set>

namespace nfjit::ir {

namespace {

std::string in_table(const Table& t) { return " (table " + t.name + ")"; }

}  // namespace

Result<void> validate(const Table& t) {
  std::set<std::string> names;
  for (const auto& c : t.chains)
    if (!names.insert(c.name).second) return make_error(EEXIST, "chain '" + c.name + "' defined twice" + in_table(t));

  for (const auto& c : t.chains)
    for (const auto& r : c.rules) {
      for (const auto& m : r.matches)
        if (const auto* sm = std::get_if<SetMatch>(&m.m); sm && !t.find_set(sm->set))
          return make_error(ENOENT, "rule '" + r.origin + "' in chain " + c.name + ": no set '" + sm->set + "'" + in_table(t));
      if (r.action.kind != ActionKind::Jump && r.action.kind != ActionKind::Goto) continue;
      const Chain* target = t.find_chain(r.action.target);
      if (!target)
        return make_error(ENOENT, "rule '" + r.origin + "' in chain " + c.name + ": " + to_string(r.action.kind) +
                                      " to missing chain '" + r.action.target + "'" + in_table(t));
      if (target->base)
        return make_error(EINVAL, "rule '" + r.origin + "' in chain " + c.name + ": " + to_string(r.action.kind) +
                                      " to base chain '" + r.action.target + "'" + in_table(t));
    }

  // Loop detection: depth-first search with colours; a grey chain reached again closes a loop.
  enum Colour { White, Grey, Black };
  std::map<std::string, Colour> colour;
  std::string loop_msg;
  auto dfs = [&](auto&& self, const Chain& c) -> bool {
    colour[c.name] = Grey;
    for (const auto& r : c.rules) {
      if (r.action.kind != ActionKind::Jump && r.action.kind != ActionKind::Goto) continue;
      const Chain& target = *t.find_chain(r.action.target);
      Colour col = colour[target.name];
      if (col == Grey) {
        loop_msg = "rule '" + r.origin + "' in chain " + c.name + ": " + to_string(r.action.kind) + " to '" +
                   target.name + "' makes a loop" + in_table(t);
        return false;
      }
      if (col == White && !self(self, target)) return false;
    }
    colour[c.name] = Black;
    return true;
  };
  for (const auto& c : t.chains)
    if (colour[c.name] == White && !dfs(dfs, c)) return make_error(ELOOP, loop_msg);
  return {};
}

}  // namespace nfjit::ir
