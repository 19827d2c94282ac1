#include "daemon/server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <vector>

#include "daemon/log.h"
#include "daemon/wire_codec.h"

namespace nfjit::daemon {

Server::Server(ServerOptions opts, RequestHandler& handler)
    : opts_(std::move(opts)), handler_(handler), self_(SelfNamespaces::current()),
      stop_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Result<void> Server::start() {
  listen_ = ListenSocket::open(opts_.socket_path);
  if (!listen_) return listen_.error();
  logf(LOG_INFO, "listening on %s", opts_.socket_path.c_str());
  return {};
}

void Server::request_stop() {
  uint64_t one = 1;
  ssize_t r = ::write(stop_fd_.get(), &one, sizeof(one));
  (void)r;
}

void Server::run() {
  if (!listen_) return;
  std::vector<pollfd> fds;
  std::vector<Connection*> order;
  for (;;) {
    fds.clear();
    order.clear();
    fds.push_back({stop_fd_.get(), POLLIN, 0});
    fds.push_back({listen_->fd(), static_cast<short>(clients_.size() < opts_.max_clients ? POLLIN : 0), 0});
    for (auto& c : clients_) {
      // While a reply is pending we stop reading that client: its own backlog bounds its memory.
      fds.push_back({c.fd(), static_cast<short>(c.wants_write() ? POLLOUT : POLLIN), 0});
      order.push_back(&c);
    }
    size_t netlink_first = fds.size();
    if (netlink_) netlink_->poll_fds(fds);
    int n = ::poll(fds.data(), fds.size(), 1000);
    if (n < 0 && errno != EINTR) {
      logf(LOG_ERR, "poll: %s", std::strerror(errno));
      return;
    }
    if (fds[0].revents & POLLIN) break;
    if (fds[1].revents & POLLIN) accept_clients();
    std::vector<Connection*> dead;
    for (size_t i = 0; i < order.size(); ++i) {
      Connection& c = *order[i];
      short ev = fds[i + 2].revents;
      bool alive = true;
      if (ev & POLLOUT) alive = c.flush() && !(c.close_when_flushed && !c.wants_write());
      else if (ev & (POLLIN | POLLHUP | POLLERR)) alive = on_readable(c);
      if (alive && c.wants_write()) alive = c.flush();  // most replies fit the socket buffer at once
      if (alive && c.close_when_flushed && !c.wants_write()) alive = false;
      if (!alive) dead.push_back(&c);
    }
    for (Connection* d : dead) clients_.remove_if([d](const Connection& c) { return &c == d; });
    if (netlink_) netlink_->on_poll({fds.data() + netlink_first, fds.size() - netlink_first});
    drop_idle();
  }
  logf(LOG_INFO, "stopping: %zu client(s) disconnected", clients_.size());
  clients_.clear();
}

void Server::accept_clients() {
  while (clients_.size() < opts_.max_clients) {
    int fd = ::accept4(listen_->fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        logf(LOG_WARNING, "accept: %s", std::strerror(errno));
      return;
    }
    runtime::Fd owned(fd);
    Peer peer = Peer::from_socket(fd);
    clients_.emplace_back(std::move(owned), std::move(peer));
  }
}

bool Server::on_readable(Connection& c) {
  std::string error;
  for (;;) {
    switch (c.read_some(opts_.read_budget, &error)) {
      case Connection::ReadStep::kWouldBlock: return true;
      case Connection::ReadStep::kClosed: return false;  // includes a client gone mid-message
      case Connection::ReadStep::kBadFrame:
        logf(LOG_WARNING, "dropping client %s: %s", describe(c.peer()).c_str(), error.c_str());
        c.queue(wire::encode_text_frame(wire::kProtocolError, error));
        c.close_when_flushed = true;
        return true;
      case Connection::ReadStep::kFrame:
        handle_frame(c, c.take_frame());
        if (c.wants_write() || c.close_when_flushed) return true;  // reply first, then read on
        break;
    }
  }
}

void Server::handle_frame(Connection& c, Frame frame) {
  auto refuse = [&](int err) {
    SockoptReply r;
    r.err = err;
    c.queue(wire::encode_sockopt_reply(r));
  };
  auto protocol_error = [&](const std::string& why) {
    logf(LOG_WARNING, "dropping client %s: %s", describe(c.peer()).c_str(), why.c_str());
    c.queue(wire::encode_text_frame(wire::kProtocolError, why));
    c.close_when_flushed = true;
  };
  PeerVerdict verdict = check_peer(c.peer(), self_);
  try {
    if (frame.header.type == wire::kStatusRequest) {
      // Status describes this daemon whatever namespace asks; it still needs CAP_NET_ADMIN, as
      // IPT_SO_GET_INFO does.
      if (verdict == PeerVerdict::kNoPermission) return refuse(EPERM);
      c.queue(wire::encode_text_frame(wire::kStatusReply, handler_.status()));
      return;
    }
    if (frame.header.type == wire::kNetlinkSessionRequest)
      return serve_session_request(c, frame.payload, verdict, netlink_);
    if (frame.header.type == wire::kTableNamesRequest) {
      wire::TableNamesRequest tn{};
      if (frame.payload.size() != sizeof(tn)) return protocol_error("table names request of wrong size");
      std::memcpy(&tn, frame.payload.data(), sizeof(tn));
      if (tn.family != 4 && tn.family != 6) return protocol_error("table names: family must be 4 or 6");
      // Another namespace's /proc file is its own kernel's; the file is 0440 root:root for the rest.
      if (verdict == PeerVerdict::kOtherNetns) {
        c.queue(wire::encode_sockopt_reply(SockoptReply{}, wire::kNotThisNamespace));
        return;
      }
      if (verdict == PeerVerdict::kNoPermission) return refuse(EACCES);
      c.queue(wire::encode_text_frame(wire::kTableNamesReply, handler_.table_names(static_cast<int>(tn.family))));
      return;
    }
    if (frame.header.type != wire::kSockoptRequest)
      return protocol_error("unexpected frame type " + std::to_string(frame.header.type));
    auto req = wire::decode_sockopt_request(frame.payload);
    if (!req) return protocol_error(req.error().message);
    if (!wire::routes_to_daemon(req->set, req->level, req->optname)) return refuse(ENOPROTOOPT);
    if (verdict == PeerVerdict::kOtherNetns) {
      c.queue(wire::encode_sockopt_reply(SockoptReply{}, wire::kNotThisNamespace));
      return;
    }
    if (verdict == PeerVerdict::kNoPermission) return refuse(EPERM);
    req->peer = c.peer().cred;
    auto handle_start = std::chrono::steady_clock::now();
    SockoptReply reply = handler_.sockopt(*req);
    auto handled = std::chrono::steady_clock::now();
    if (!req->set && reply.err == 0 && reply.data.size() > req->optlen) {
      // The kernel never writes past *optlen; a handler that would is a bug we must not pass on.
      logf(LOG_ERR, "handler answered %zu bytes for a %u-byte getsockopt(%d, %d)", reply.data.size(),
           req->optlen, req->level, req->optname);
      return refuse(EIO);
    }
    c.queue(wire::encode_sockopt_reply(reply));
    if (log_debug_enabled()) {
      // Transport (the frame's first byte to its last), the handler, encoding the reply.
      auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
      auto done = std::chrono::steady_clock::now();
      logf(LOG_DEBUG, "sockopt %s level %d opt %d: %zu bytes in, received in %.2f ms, handled in %.2f ms, "
                      "%zu+%zu bytes out, encoded in %.2f ms, err %d",
           req->set ? "set" : "get", req->level, req->optname, req->data.size(), ms(c.frame_started(), handle_start),
           ms(handle_start, handled), reply.data.size(), reply.old_counters.size(), ms(handled, done), reply.err);
    }
  } catch (const std::exception& e) {
    // A handler failure fails one call, never the daemon.
    logf(LOG_ERR, "request from %s failed: %s", describe(c.peer()).c_str(), e.what());
    refuse(ENOMEM);
  }
}

void Server::drop_idle() {
  auto now = std::chrono::steady_clock::now();
  clients_.remove_if([&](const Connection& c) {
    bool idle = now - c.last_activity() > opts_.idle_timeout;
    if (idle) logf(LOG_INFO, "dropping idle client %s", describe(c.peer()).c_str());
    return idle;
  });
}

}  // namespace nfjit::daemon
