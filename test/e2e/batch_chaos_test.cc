// Issue 5 point 9 on the real control plane: weir-controller is SIGKILLed at
// random moments while 20 Batches run, and started again each time. Every
// Batch must still end in the phase its simulated pods decide. The
// independent oracle (test/oracle/history.h), watching from before the first
// Batch, judges every version of every Batch, Job and pod: one Job per
// attempt, nothing authorized or created after a cancel, every phase, reason
// and exit code justified by the pods, nothing orphaned, and quiet at the end.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "test/e2e/support/batch_objects.h"
#include "test/e2e/support/controller_fixture.h"
#include "test/e2e/support/kubectl.h"

namespace weir::e2e {
namespace {

using nlohmann::json;

// What one Batch is made to do, and how it must end.
struct Case {
  std::string name;
  json batch;
  std::string phase;
  std::string reason;
  int attempts = 0;  // checked unless canceled (then it depends on when)
  std::optional<absl::Duration> cancel_after;
};

class BatchChaosTest : public ControllerFixture {
 protected:
  void TearDown() override {
    ControllerFixture::TearDown();
    if (HasFailure()) {
      for (const std::string& log : killed_logs_) {
        std::fprintf(stderr, "log of a killed instance: %s\n", log.c_str());
      }
    }
  }

  // The seed from WEIR_CHAOS_SEED (to replay a run), else a fresh one.
  static uint32_t Seed() {
    const char* env = std::getenv("WEIR_CHAOS_SEED");
    uint32_t seed = 0;
    if (env != nullptr && absl::SimpleAtoi(env, &seed)) return seed;
    return std::random_device{}();
  }

  std::vector<Case> MakeCases(std::mt19937& rng) {
    std::uniform_int_distribution<int> seconds(1, 3);
    std::vector<Case> cases;
    auto add = [&](const std::string& name, const std::string& outcome, json extra,
                   json annotations, const std::string& phase, const std::string& reason,
                   int attempts) {
      annotations["sim.weir.dev/duration"] = absl::StrCat(seconds(rng), "s");
      cases.push_back({name, SimulatedBatch(ns(), name, outcome, extra, annotations), phase, reason,
                       attempts, std::nullopt});
    };
    for (int i = 0; i < 6; ++i) {
      add(absl::StrCat("ok-", i), "Succeeded", json::object(), json::object(), "Succeeded",
          "Completed", 1);
    }
    for (int i = 0; i < 4; ++i) {
      add(absl::StrCat("fail-", i), "Failed", {{"retry", {{"limit", 2}, {"backoffSeconds", 1}}}},
          {{"sim.weir.dev/exit-code", "3"}}, "Failed", "Error", 3);
    }
    for (int i = 0; i < 4; ++i) {
      add(absl::StrCat("oom-", i), "OOMKilled",
          {{"retry",
            {{"backoffSeconds", 1}, {"onOOM", {{"memoryFactor", 2.0}, {"maxMemory", "1Gi"}}}}}},
          {{"sim.weir.dev/outcome-attempt-2", "Succeeded"}}, "Succeeded", "Completed", 2);
    }
    // Canceled while pending, running, or (failing ones) waiting to retry.
    for (int i = 0; i < 3; ++i) {
      add(absl::StrCat("hang-", i), "Hang", json::object(), json::object(), "Canceled", "Canceled",
          0);
      add(absl::StrCat("retry-", i), "Failed", {{"retry", {{"limit", 5}, {"backoffSeconds", 2}}}},
          json::object(), "Canceled", "Canceled", 0);
    }
    // Hanging ones mostly around their Job's creation, retrying ones later.
    std::uniform_int_distribution<int> early_ms(0, 4000), late_ms(2000, 10000);
    for (Case& c : cases) {
      if (c.phase != "Canceled") continue;
      c.cancel_after =
          absl::Milliseconds(c.name.starts_with("hang-") ? early_ms(rng) : late_ms(rng));
    }
    return cases;
  }

  std::vector<std::string> killed_logs_;
};

bool IsTerminal(const std::string& phase) {
  return phase == "Succeeded" || phase == "Failed" || phase == "Killed" || phase == "Canceled";
}

TEST_F(BatchChaosTest, SigkilledAtRandomMomentsEveryBatchEndsRightWithOneJobPerAttempt) {
  const uint32_t seed = Seed();
  std::printf("chaos seed %u (replay with WEIR_CHAOS_SEED=%u)\n", seed, seed);
  std::mt19937 rng(seed);
  const std::vector<Case> cases = MakeCases(rng);

  json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", json::array()}};
  for (const Case& c : cases) list["items"].push_back(c.batch);
  absl::Status created = kubectl().Run({"create", "-f", "-"}, list.dump()).status();
  ASSERT_TRUE(created.ok()) << created;
  const absl::Time start = absl::Now();

  // Cancels at their planned moments, in order.
  std::thread canceler([&] {
    std::vector<const Case*> order;
    for (const Case& c : cases) {
      if (c.cancel_after.has_value()) order.push_back(&c);
    }
    std::sort(order.begin(), order.end(),
              [](const Case* a, const Case* b) { return *a->cancel_after < *b->cancel_after; });
    for (const Case* c : order) {
      absl::SleepFor(start + *c->cancel_after - absl::Now());
      absl::Status s = kubectl()
                           .Run({"patch", "batches.weir.dev", c->name, "-n", ns(), "--type=merge",
                                 "-p", R"({"spec":{"cancel":true}})"})
                           .status();
      EXPECT_TRUE(s.ok()) << c->name << ": " << s;
    }
  });

  // SIGKILL at random moments, each time starting a new instance at once;
  // the last instance runs to the end. (Failures to restart are recorded and
  // the loop goes on: the canceler must be joined.)
  constexpr int kKills = 8;
  std::uniform_int_distribution<int> alive_ms(300, 2500);
  std::vector<absl::Duration> kills;
  for (int i = 0; i < kKills; ++i) {
    absl::SleepFor(absl::Milliseconds(alive_ms(rng)));
    killed_logs_.push_back(controller().log_path());
    kills.push_back(absl::Now() - start);
    RestartController(/*crash=*/true);
  }
  canceler.join();
  std::printf("killed at:");
  for (absl::Duration d : kills) std::printf(" %s", absl::FormatDuration(d).c_str());
  std::printf("\n");

  std::map<std::string, json> batches;
  const bool settled = Eventually(
      [&] {
        batches.clear();
        for (const json& b : List("batches.weir.dev")) batches[b["metadata"]["name"]] = b;
        for (const Case& c : cases) {
          if (!batches.contains(c.name) || !IsTerminal(Phase(batches[c.name]))) return false;
        }
        return true;
      },
      absl::Seconds(90), absl::Milliseconds(500));
  std::printf("all Batches settled %s after the start\n",
              absl::FormatDuration(absl::Now() - start).c_str());
  EXPECT_TRUE(settled) << "some Batch never reached a terminal phase";
  FinishOracle();
  EXPECT_EQ(controller().Stop(), 0) << "the last instance stops cleanly";
  const json listed_now = List("jobs", "weir.dev/managed-by=weir");

  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const json& b = batches[c.name];
    ASSERT_TRUE(b.is_object());
    const json& status = b["status"];
    EXPECT_EQ(Phase(b), c.phase) << status.dump();
    EXPECT_EQ(status.value("terminationReason", ""), c.reason) << status.dump();
    const json attempts = status.value("attempts", json::array());
    if (!c.cancel_after.has_value()) {
      EXPECT_EQ(attempts.size(), static_cast<size_t>(c.attempts)) << status.dump();
    }
    if (c.name.starts_with("fail-")) {
      EXPECT_EQ(status.value("exitCode", 0), 3);
      for (const json& a : attempts) EXPECT_EQ(a["exitCode"], 3) << a.dump();
    }
    if (c.name.starts_with("oom-") && attempts.size() == 2) {
      EXPECT_EQ(attempts[0]["terminationReason"], "OOMKilled");
      EXPECT_EQ(attempts[0]["memoryLimit"], "64Mi");
      EXPECT_EQ(attempts[1]["memoryLimit"], "128Mi");
    }

    // Each attempt's Job is the one its record names (the oracle checked
    // that no attempt ever had a second one).
    const std::string uid = b["metadata"]["uid"];
    std::map<int, std::string> job_of_attempt;
    for (const json& j : listed_now) {
      if (j["metadata"]["labels"].value("weir.dev/batch-uid", "") != uid) continue;
      int attempt = 0;
      EXPECT_TRUE(
          absl::SimpleAtoi(j["metadata"]["labels"].value("weir.dev/attempt", ""), &attempt));
      job_of_attempt[attempt] = j["metadata"]["name"];
    }
    for (size_t i = 0; i < attempts.size(); ++i) {
      const int n = static_cast<int>(i) + 1;
      EXPECT_EQ(attempts[i].value("attempt", 0), n) << status.dump();
      if (job_of_attempt.contains(n)) {
        EXPECT_EQ(attempts[i].value("job", ""), job_of_attempt[n]);
      }
    }
    if (!c.cancel_after.has_value()) {
      // Nothing deletes a running Batch's Jobs (the idle timeout is 1h).
      EXPECT_EQ(job_of_attempt.size(), attempts.size());
    }
  }
}

}  // namespace
}  // namespace weir::e2e
