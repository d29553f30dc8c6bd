// The graph the CTS compiles, in each format it can write without LibTorch:
// two float32 [2, 3] inputs a, b and two results, a * b and a + b.
#pragma once

#include <array>
#include <optional>
#include <string>

namespace ltc::cts {

inline constexpr int64_t kGraphRows = 2;
inline constexpr int64_t kGraphColumns = 3;
inline constexpr size_t kGraphElements = kGraphRows * kGraphColumns;
using GraphValues = std::array<float, kGraphElements>;

// What the graph returns for `a` and `b`: {a * b, a + b}.
std::array<GraphValues, 2> ExpectedResults(const GraphValues& a, const GraphValues& b);

// The graph serialized in `format`, or nullopt for a format the CTS cannot
// write (torchscript-archive-v1 needs TorchScript's compiler).
std::optional<std::string> WriteTestGraph(const std::string& format);

}  // namespace ltc::cts
