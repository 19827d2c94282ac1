// Owning smart pointers for libnftnl objects. Stored objects are shared between the committed state and
// the copy a batch works on (copy-on-write at object granularity), so they are shared_ptr.
#pragma once

#include <arpa/inet.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/flowtable.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include <memory>

namespace nfjit::nft {

using NftnlRule = std::shared_ptr<nftnl_rule>;
using NftnlSet = std::shared_ptr<nftnl_set>;
using NftnlElem = std::shared_ptr<nftnl_set_elem>;
using NftnlObj = std::shared_ptr<nftnl_obj>;
using NftnlFlowtable = std::shared_ptr<nftnl_flowtable>;

inline NftnlRule make_rule() { return NftnlRule(nftnl_rule_alloc(), nftnl_rule_free); }
inline NftnlSet make_set() { return NftnlSet(nftnl_set_alloc(), nftnl_set_free); }
inline NftnlObj make_obj() { return NftnlObj(nftnl_obj_alloc(), nftnl_obj_free); }
inline NftnlFlowtable make_flowtable() { return NftnlFlowtable(nftnl_flowtable_alloc(), nftnl_flowtable_free); }

struct TableDeleter { void operator()(nftnl_table* t) const { nftnl_table_free(t); } };
struct ChainDeleter { void operator()(nftnl_chain* c) const { nftnl_chain_free(c); } };
using UniqueTable = std::unique_ptr<nftnl_table, TableDeleter>;
using UniqueChain = std::unique_ptr<nftnl_chain, ChainDeleter>;

}  // namespace nfjit::nft
