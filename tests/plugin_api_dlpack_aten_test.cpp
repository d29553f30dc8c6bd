// ltc/dlpack_aten.h names every dtype as LibTorch's own DLPack conversion
// does (booleans aside, which the ABI gives a code of their own), without
// LibTorch's allocation for the common types.
#include <ltc/dlpack_aten.h>

#include <gtest/gtest.h>

namespace {

TEST(DlpackAten, DataTypesAgreeWithLibTorch) {
  int checked = 0;
  for (int i = 0; i < static_cast<int>(at::ScalarType::NumOptions); ++i) {
    const auto type = static_cast<at::ScalarType>(i);
    SCOPED_TRACE(c10::toString(type));
    if (type == at::kBool) {
      const DLDataType got = ltc::ToDLDataType(type);
      EXPECT_EQ(got.code, LTC_DL_BOOL_CODE);
      EXPECT_EQ(ltc::ToScalarType(got), at::kBool);
      continue;
    }
    DLDataType expected{};
    try {
      expected = at::getDLDataType(at::empty({0}, at::TensorOptions().dtype(type)));
    } catch (const c10::Error&) {
      EXPECT_ANY_THROW(ltc::ToDLDataType(type)) << "LibTorch cannot carry it";
      continue;
    }
    // PyTorch 2.x's sub-byte types (UInt1..UInt7, ...) have no DLPack
    // type of their own: LibTorch's own mapping does not come back to them.
    if (at::toScalarType(expected) != type) continue;
    const DLDataType got = ltc::ToDLDataType(type);
    EXPECT_EQ(got.code, expected.code);
    EXPECT_EQ(got.bits, expected.bits);
    EXPECT_EQ(got.lanes, expected.lanes);
    EXPECT_EQ(ltc::ToScalarType(got), type);
    ++checked;
  }
  EXPECT_GE(checked, 10) << "the integer, floating and complex types";
}

}  // namespace
