// The constants of ltc-graph-v1's encoding (graph-format.md), in one place
// so that the reader and the writer cannot disagree.
#ifndef LTC_GRAPH_WIRE_H_
#define LTC_GRAPH_WIRE_H_

#include <cstddef>
#include <cstdint>

namespace ltc::graph::wire {

inline constexpr uint8_t kMagic[8] = {'L', 'T', 'C', 'G', 'R', 'A', 'P', 'H'};
inline constexpr size_t kHeaderSize = 12;  // magic, u16 major, u16 minor

// Known sections, in the order a file holds them.
enum SectionId : uint32_t {
  kParametersSection = 1,
  kConstantsSection = 2,
  kNodesSection = 3,
  kOutputsSection = 4,
};
inline constexpr size_t kSectionHeaderSize = 12;  // u32 id, u64 length
inline constexpr size_t kRecordLengthSize = 8;    // u64 before each record

// Argument tags: Argument's alternative index + 1.
enum ArgumentTag : uint8_t {
  kValueTag = 1,
  kValueListTag = 2,
  kNoneTag = 3,
  kIntTag = 4,
  kFloatTag = 5,
  kBoolTag = 6,
  kIntListTag = 7,
  kFloatListTag = 8,
  kBoolListTag = 9,
  kDtypeTag = 10,
  kStringTag = 11,
};

// In a value list: None, where the schema says `Tensor?[]`. Never a value
// index, so a graph holds fewer values than this.
inline constexpr uint32_t kNoValue = 0xFFFFFFFFu;

inline constexpr int32_t kUnknownRank = -1;

// The smallest encodings, which bound every count by the bytes left.
inline constexpr size_t kMinTypeSize = 9;  // kind, dtype (4), rank (i32)
inline constexpr size_t kMinParameterSize = kRecordLengthSize + kMinTypeSize;
inline constexpr size_t kMinConstantSize = kRecordLengthSize + kMinTypeSize + 8;
inline constexpr size_t kMinNodeSize = kRecordLengthSize + 4 + 4 + 4 + 4;

}  // namespace ltc::graph::wire

#endif  // LTC_GRAPH_WIRE_H_
