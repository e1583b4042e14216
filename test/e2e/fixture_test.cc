// The e2e fixture's own strictness: when kubectl cannot reach the API
// server, the "nothing is left" checks tests are made of fail instead of
// passing, and Find reads only NotFound as "absent"; and the oracle's
// watcher reports an owner that is never left alone (invariant 4).
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "test/e2e/support/batch_objects.h"
#include "test/e2e/support/controller_fixture.h"

namespace weir::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

class FixtureStrictnessTest : public ControllerFixture {
 protected:
  // A kubectl whose kubeconfig names a port nothing listens on (else the
  // same as the test's): every call fails with a connection error.
  static absl::StatusOr<Kubectl> UnreachableKubectl() {
    const std::string kubeconfig = std::getenv("KUBECONFIG");
    std::ifstream in(kubeconfig);
    std::stringstream text;
    text << in.rdbuf();
    const std::string broken_path = kubeconfig + ".unreachable";
    std::ofstream(broken_path) << std::regex_replace(text.str(), std::regex("server: .*"),
                                                     "server: https://127.0.0.1:1");
    setenv("KUBECONFIG", broken_path.c_str(), 1);
    absl::StatusOr<Kubectl> broken = Kubectl::FromEnv();
    setenv("KUBECONFIG", kubeconfig.c_str(), 1);
    return broken;
  }
};

TEST_F(FixtureStrictnessTest, AnUnreachableServerFailsNothingIsLeftChecks) {
  // Against the real server: the namespace has no Jobs, and no Batch "none".
  EXPECT_TRUE(List("jobs").empty());
  EXPECT_FALSE(Find("batches.weir.dev", "none").has_value());

  absl::StatusOr<Kubectl> broken = UnreachableKubectl();
  ASSERT_TRUE(broken.ok()) << broken.status();
  absl::StatusOr<std::optional<json>> found = broken->Find("batches.weir.dev", "none", ns());
  EXPECT_FALSE(found.ok()) << "an unreachable server is not \"absent\"";
  ReplaceKubectl(*std::move(broken));

  // The same checks now fail the test (captured here, to be inspected).
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter capture(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    EXPECT_TRUE(Eventually([&] { return List("jobs").empty(); }, absl::Seconds(5)));
    EXPECT_TRUE(Eventually([&] { return !Find("batches.weir.dev", "none").has_value(); },
                           absl::Seconds(5)));
    (void)Get("batches.weir.dev", "none");
  }
  ASSERT_EQ(failures.size(), 3) << "each helper reports the kubectl error, once";
  std::string messages;
  for (int i = 0; i < failures.size(); ++i) {
    EXPECT_TRUE(failures.GetTestPartResult(i).nonfatally_failed());
    messages += failures.GetTestPartResult(i).message();
  }
  EXPECT_THAT(messages, HasSubstr("kubectl get jobs"));
  EXPECT_THAT(messages, HasSubstr("kubectl get batches.weir.dev none"));
  EXPECT_THAT(messages, HasSubstr("127.0.0.1:1"));

  // Eventually ends a wait at once on a probe error.
  ::testing::TestPartResultArray probe_failures;
  bool waited = true;
  const absl::Time start = absl::Now();
  {
    ::testing::ScopedFakeTestPartResultReporter capture(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD,
        &probe_failures);
    waited = Eventually([]() -> absl::StatusOr<bool> { return absl::UnavailableError("down"); },
                        absl::Seconds(60));
  }
  EXPECT_FALSE(waited);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "the wait went on after the error";
  ASSERT_EQ(probe_failures.size(), 1);
  EXPECT_THAT(probe_failures.GetTestPartResult(0).message(), HasSubstr("down"));
}

// Invariant 4 as OracleWatch checks it: an owner still being written when
// the scenario should be over is reported, naming the owner.
TEST_F(FixtureStrictnessTest, AnOwnerThatKeepsBeingWrittenIsReported) {
  absl::StatusOr<std::unique_ptr<OracleWatch>> watch = OracleWatch::Start(kubectl(), ns());
  ASSERT_TRUE(watch.ok()) << watch.status();
  Apply(SimulatedBatch(ns(), "busy", "Succeeded"));
  WaitForPhase("batches.weir.dev", "busy", "Succeeded");
  std::atomic<bool> stop = false;
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      (void)kubectl().Run({"annotate", "--overwrite", "batches.weir.dev", "busy", "-n", ns(),
                           absl::StrCat("e2e/write=", i)});
      absl::SleepFor(absl::Milliseconds(300));
    }
  });
  absl::StatusOr<oracle::History> history = (*watch)->Finish(absl::Seconds(2), absl::Seconds(4));
  stop = true;
  writer.join();
  ASSERT_TRUE(history.ok()) << history.status();
  const std::vector<oracle::Violation> violations = history->Check();
  ASSERT_EQ(violations.size(), 1u) << history->Report(violations);
  EXPECT_EQ(violations[0].invariant, 4);
  EXPECT_THAT(history->Describe(violations[0]), HasSubstr("MODIFIED Batch busy"));
}

}  // namespace
}  // namespace weir::e2e
