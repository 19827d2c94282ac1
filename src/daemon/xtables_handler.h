// nfjitd's RequestHandler: IPT_SO_* / IP6T_SO_* calls go to the xtables front-end, whose lowered tables
// run as BPF through the runtime Engine; `nfjit status` lists every table and where it runs.
#pragma once

#include "daemon/request_handler.h"
#include "frontend/xtables/service.h"
#include "runtime/engine.h"

namespace nfjit::daemon {

class XtablesHandler : public RequestHandler {
 public:
  XtablesHandler(xt::XtablesService& service, const runtime::Engine& engine);
  SockoptReply sockopt(const SockoptRequest& req) override;
  std::string status() override;
  std::string table_names(int family) override;

 private:
  xt::XtablesService& service_;
  const runtime::Engine& engine_;
};

}  // namespace nfjit::daemon
