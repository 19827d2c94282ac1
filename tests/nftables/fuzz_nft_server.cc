// libFuzzer target: arbitrary bytes as one sendmsg() to the server, twice (so the second input sees the
// state the first one may have committed). Built by scripts/fuzz-nftables.sh with clang.
#include <cstddef>
#include <cstdint>

#include "frontend/nftables/nft_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nfjit::nft::NftServer s;
  nfjit::nft::Peer peer{1, 1, "fuzz"};
  (void)s.handle(data, size, peer, {true, false});
  (void)s.handle(data, size, peer, {true, true});
  return 0;
}
