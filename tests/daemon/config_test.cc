#include <gtest/gtest.h>

#include "daemon/config.h"

namespace nfjit::daemon {
namespace {

Result<DaemonConfig> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "nfjitd");
  return parse_daemon_args(static_cast<int>(args.size()), args.data());
}

TEST(DaemonConfig, DefaultsAreWhereARouterExpectsThem) {
  auto c = parse({});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->socket_path, "/run/nfjit/nfjitd.sock");
  EXPECT_EQ(c->pidfile_path(), "/var/lib/nfjit/nfjitd.pid");
  EXPECT_FALSE(c->foreground);
  EXPECT_FALSE(c->strict);
}

TEST(DaemonConfig, EveryOptionInBothSpellings) {
  auto c = parse({"--socket", "/s", "--bpffs=/b", "--state-dir", "/st", "--strict", "--xdp", "eth0",
                  "--xdp=eth1", "--tc", "veth0", "-f"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->socket_path, "/s");
  EXPECT_EQ(c->bpffs_dir, "/b");
  EXPECT_EQ(c->state_dir, "/st");
  EXPECT_TRUE(c->strict);
  EXPECT_EQ(c->xdp_ifaces, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(c->tc_ifaces, (std::vector<std::string>{"veth0"}));
  EXPECT_TRUE(c->foreground);
}

TEST(DaemonConfig, MistakesAreNamed) {
  auto missing = parse({"--socket"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "--socket needs a value");
  auto unknown = parse({"--sokcet", "/x"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "unknown argument '--sokcet'");
  EXPECT_FALSE(parse({"--xdp="}));
}

TEST(DaemonConfig, RejectMode) {
  EXPECT_FALSE(parse({})->reject_in_kernel);  // userspace replies by default (docs/reject.md)
  EXPECT_TRUE(parse({"--reject=kernel"})->reject_in_kernel);
  EXPECT_FALSE(parse({"--reject", "userspace"})->reject_in_kernel);
  auto bad = parse({"--reject=tc"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "--reject needs 'userspace' or 'kernel', not 'tc'");
}

}  // namespace
}  // namespace nfjit::daemon
