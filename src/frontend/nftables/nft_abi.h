// nf_tables ABI values newer than Debian 12's installed uapi header (linux 6.1) but spoken by the
// running kernel (6.18). Values from include/uapi/linux/netfilter/nf_tables.h upstream.
#pragma once

#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>

#include <cstddef>
#include <cstdint>

namespace nfjit::nft {

enum NftMsgNew : uint16_t {
  kMsgGetRuleReset = 25,      // NFT_MSG_GETRULE_RESET (6.2)
  kMsgDestroyTable = 26,      // NFT_MSG_DESTROY* (6.3): like DEL*, but a missing object is not an error
  kMsgDestroyChain = 27,
  kMsgDestroyRule = 28,
  kMsgDestroySet = 29,
  kMsgDestroySetElem = 30,
  kMsgDestroyObj = 31,
  kMsgDestroyFlowtable = 32,
  kMsgGetSetElemReset = 33,   // 6.5
};

constexpr uint32_t kTableFPersist = 0x4;  // NFT_TABLE_F_PERSIST (6.9)
constexpr uint32_t kTableFlagsMask = NFT_TABLE_F_DORMANT | NFT_TABLE_F_OWNER | kTableFPersist;
constexpr size_t kNameMaxLen = 256;       // NFT_NAME_MAXLEN, including the NUL
constexpr size_t kUserdataMaxLen = 256;   // NFT_USERDATA_MAXLEN

}  // namespace nfjit::nft
