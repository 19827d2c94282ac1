#include "daemon/netlink_session_service.h"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <cstring>

#include "daemon/log.h"
#include "daemon/wire_codec.h"

namespace nfjit::daemon {
namespace {

void send_reply(Connection& c, const wire::NetlinkSessionReply& rep, int fd) {
  struct {
    wire::FrameHeader hdr;
    wire::NetlinkSessionReply rep;
  } out{{wire::kMagic, wire::kVersion, wire::kNetlinkSessionReply, sizeof(rep)}, rep};
  iovec iov{&out, sizeof(out)};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))]{};
  if (fd >= 0) {
    m.msg_control = control;
    m.msg_controllen = sizeof(control);
    cmsghdr* cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &fd, sizeof(int));
  }
  ssize_t n = ::sendmsg(c.fd(), &m, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n != static_cast<ssize_t>(sizeof(out)))
    logf(LOG_WARNING, "netlink session reply to %s not sent: %s", describe(c.peer()).c_str(),
         n < 0 ? std::strerror(errno) : "short write");
}

}  // namespace

void serve_session_request(Connection& c, const std::vector<uint8_t>& payload, PeerVerdict verdict,
                           NetlinkSessionService* service) {
  c.close_when_flushed = true;  // one session per connection; the shim closes it too
  wire::NetlinkSessionReply rep{};
  wire::NetlinkSessionRequest req{};
  if (payload.size() != sizeof(req)) {
    c.queue(wire::encode_text_frame(wire::kProtocolError, "netlink session request of wrong size"));
    return;
  }
  std::memcpy(&req, payload.data(), sizeof(req));
  if (!service || req.protocol != NETLINK_NETFILTER) {
    rep.err = EPROTONOSUPPORT;
    return send_reply(c, rep, -1);
  }
  if (verdict == PeerVerdict::kOtherNetns) {
    rep.disposition = wire::kNotThisNamespace;
    return send_reply(c, rep, -1);
  }
  auto opened = service->open_session(c.peer(), verdict == PeerVerdict::kAllowed);
  if (!opened) {
    logf(LOG_WARNING, "netlink session for %s: %s", describe(c.peer()).c_str(), opened.error().message.c_str());
    rep.err = opened.error().err ? opened.error().err : ENOMEM;
    return send_reply(c, rep, -1);
  }
  rep.portid = opened->portid;
  send_reply(c, rep, opened->client_end.get());
  // Our copy of the client's end closes here; if the reply was lost the session sees EOF and goes.
}

}  // namespace nfjit::daemon
