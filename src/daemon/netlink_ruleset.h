// What nfjitd does after each nf_tables commit: every table of the committed Store is lowered to the IR
// and installed in the runtime Engine under "nft-<family>-<table>"; tables that went away are removed.
// A table that cannot be lowered (or when no lowering is wired in) is NOT enforced anywhere: nfjit keeps
// it in its listings only, so that is said loudly — in the log at every commit and in `nfjit status` —
// never silently. Live counters of lowered tables feed NftServer's listings.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "daemon/request_handler.h"
#include "frontend/nftables/lower/lower.h"
#include "frontend/nftables/nft_server.h"
#include "runtime/engine.h"

namespace nfjit::daemon {

using NftLowerFn = std::function<Result<nft::LoweredTable>(const nft::Store&, uint8_t family, const std::string& table,
                                                           std::vector<nft::Refusal>* refusals)>;

class NftRuleset {
 public:
  // `lower` may be empty: then no table is enforced (and status says so).
  NftRuleset(nft::NftServer& server, runtime::Engine& engine, NftLowerFn lower);
  // The "nf_tables" part of `nfjit status`.
  std::string status() const;
  static std::string key_for(uint8_t family, const std::string& table);

 private:
  void on_changed(const nft::Store& store);
  std::optional<nft::CounterValue> counter(const nft::CounterKey& k) const;

  struct TableState {
    bool enforced = false;
    std::string why;  // for status: where it runs, or why it does not
    nft::LoweredTable lowered;
  };
  nft::NftServer& server_;
  runtime::Engine& engine_;
  NftLowerFn lower_;
  std::map<std::string, TableState> tables_;  // by Engine key
};

// `nfjit status` = the inner handler's text + the nf_tables part; everything else goes to the inner one.
class WithNftStatus : public RequestHandler {
 public:
  WithNftStatus(RequestHandler& inner, const NftRuleset& nft) : inner_(inner), nft_(nft) {}
  SockoptReply sockopt(const SockoptRequest& req) override { return inner_.sockopt(req); }
  std::string status() override { return inner_.status() + nft_.status(); }
  std::string table_names(int family) override { return inner_.table_names(family); }

 private:
  RequestHandler& inner_;
  const NftRuleset& nft_;
};

}  // namespace nfjit::daemon
