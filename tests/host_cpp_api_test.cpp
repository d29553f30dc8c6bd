// ltc/host.h from C++: init picks ts_cpu from the build tree's plugins, and
// lazy tensors then run through it.
#include <ltc/host.h>

#include <gtest/gtest.h>
#include <torch/csrc/lazy/core/metrics.h>
#include <torch/torch.h>

#include <cstdlib>

namespace {

TEST(HostCppApi, InitRunsLazyTensorsThroughThePlugin) {
  unsetenv("LTC_BACKEND");
  unsetenv("LTC_PLUGIN_PATH");
  EXPECT_EQ(ltc::backend(), "");
  ASSERT_EQ(ltc::init(), "ts_cpu");
  EXPECT_EQ(ltc::backend(), "ts_cpu");
  EXPECT_EQ(ltc::init("ts_cpu"), "ts_cpu") << "asking again for the same plugin";
  EXPECT_EQ(ltc::init(" ts_cuda, ts_cpu "), "ts_cpu") << "a list that names it";

  const torch::Tensor a = torch::randn({4, 3});
  const torch::Tensor b = torch::randn({3, 5});
  const torch::Tensor lazy = torch::relu(torch::mm(a.to(torch::kLazy), b.to(torch::kLazy)));
  const torch::Tensor result = lazy.to(torch::kCPU);
  EXPECT_TRUE(torch::equal(result, torch::relu(torch::mm(a, b))));
  EXPECT_GE(torch::lazy::GetCounter("PluginExecute")->Value(), 1);
}

TEST(HostCppApi, AnotherBackendInTheSameProcessIsRefused) {
  ASSERT_EQ(ltc::init(), "ts_cpu");
  try {
    ltc::init("ts_cuda");
    FAIL() << "a second backend was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("already in use"), std::string::npos) << e.what();
  }
}

TEST(HostCppApi, OtherOptionsForTheBackendInUseAreRefused) {
  ASSERT_EQ(ltc::init(), "ts_cpu");
  try {
    ltc::init("ts_cpu", {{"pool_mb", int64_t{7}}});
    FAIL() << "other options were accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("already in use with no options"), std::string::npos)
        << e.what();
  }
}

}  // namespace
