// nfjitd's serving loop: one thread, poll(2) over the listening socket and every client, the peer
// check on each request, and dispatch to the RequestHandler. Requests are handled one at a time (the
// ruleset is one piece of state, as under the kernel's xt mutex); I/O of every client is non-blocking
// and interleaved, so a slow or stalled client delays nobody.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <string>

#include "daemon/connection.h"
#include "daemon/listen_socket.h"
#include "daemon/peer.h"
#include "daemon/netlink_session_service.h"
#include "daemon/request_handler.h"
#include "nfjit/result.h"
#include "runtime/fd.h"

namespace nfjit::daemon {

struct ServerOptions {
  std::string socket_path;
  size_t max_clients = 1024;
  // A connection silent this long is dropped (a client stuck mid-frame holds a buffer until then).
  std::chrono::milliseconds idle_timeout{60000};
  size_t read_budget = 4 << 20;  // bytes read from one client per loop turn, for fairness
};

class Server {
 public:
  // Captures the namespaces of the calling thread as the daemon's own (see peer.h).
  Server(ServerOptions opts, RequestHandler& handler);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the socket. After this, clients may connect (their requests wait for run()).
  Result<void> start();
  // Serves until request_stop(); the socket is removed when the Server is destroyed.
  void run();
  // Async-signal-safe, callable from any thread or a signal handler.
  void request_stop();

  size_t client_count() const { return clients_.size(); }
  // nf_tables netlink sessions (optional; without them a session request gets EPROTONOSUPPORT).
  void set_netlink(NetlinkSessionService* sessions) { netlink_ = sessions; }

 private:
  void accept_clients();
  // false: drop the client
  bool on_readable(Connection& c);
  void handle_frame(Connection& c, Frame frame);
  void drop_idle();

  ServerOptions opts_;
  RequestHandler& handler_;
  SelfNamespaces self_;
  runtime::Fd stop_fd_;  // eventfd
  NetlinkSessionService* netlink_ = nullptr;
  Result<ListenSocket> listen_ = make_error(ENOTCONN, "not started");
  std::list<Connection> clients_;
};

}  // namespace nfjit::daemon
