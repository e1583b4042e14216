#include "test/faults/fault_client.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/errors.h"
#include "runtime/fake_client.h"

namespace weir::faults {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json ConfigMap(const std::string& name, const std::string& value = "0") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "ns"}}},
          {"data", {{"v", value}}}};
}

TEST(ParseFaultPlanTest, ReadsEveryKey) {
  absl::StatusOr<FaultPlan> plan = ParseFaultPlan(
      "seed=7,crash-after-write=3,error-rate=0.05,watch-delay=300ms,watch-coalesce=0.5,"
      "watch-end-after=20,stale-list-version=1234,write-log=/tmp/w.log");
  ASSERT_TRUE(plan.ok()) << plan.status();
  FaultPlan want;
  want.seed = 7;
  want.crash_after_write = 3;
  want.error_rate = 0.05;
  want.watch_delay = absl::Milliseconds(300);
  want.watch_coalesce = 0.5;
  want.watch_end_after = 20;
  want.stale_list_version = "1234";
  want.write_log = "/tmp/w.log";
  EXPECT_EQ(*plan, want);
  EXPECT_EQ(*ParseFaultPlan(""), FaultPlan());
}

TEST(ParseFaultPlanTest, NamesTheBadKeyOrValue) {
  EXPECT_THAT(ParseFaultPlan("crash=1").status().message(), HasSubstr("unknown key 'crash'"));
  EXPECT_THAT(ParseFaultPlan("error-rate=2").status().message(),
              HasSubstr("error-rate=2: must be in [0, 1]"));
  EXPECT_THAT(ParseFaultPlan("watch-delay=soon").status().message(),
              HasSubstr("watch-delay=soon: must be a duration"));
  EXPECT_THAT(ParseFaultPlan("crash-after-write=-1").status().message(),
              HasSubstr("must be a count >= 0"));
}

int exit_code = 0;
void RecordExit(int code) { exit_code = code; }

// The crash comes right after the k-th state write was applied; Events and
// Leases do not count; every counted write is logged.
TEST(FaultyClientTest, ExitsAfterTheKthStateWriteIsApplied) {
  runtime::FakeClient api;
  FaultPlan plan;
  plan.crash_after_write = 2;
  plan.write_log = absl::StrCat(::testing::TempDir(), "/writes.log");
  std::remove(plan.write_log.c_str());
  exit_code = 0;
  FaultyClient faulty(&api, plan, &RecordExit);

  ASSERT_TRUE(faulty.Create(kube::resources::ConfigMaps(), "ns", ConfigMap("a"), {}).ok());
  json event = {{"metadata", {{"name", "e1"}, {"namespace", "ns"}}}, {"reason", "X"}};
  ASSERT_TRUE(faulty.Create(kube::resources::CoreEvents(), "ns", event, {}).ok());
  EXPECT_EQ(exit_code, 0);
  ASSERT_TRUE(
      faulty.MergePatch(kube::resources::ConfigMaps(), "ns", "a", {{"data", {{"v", "1"}}}}).ok());
  EXPECT_EQ(exit_code, 86);
  EXPECT_EQ(faulty.writes(), 2);
  // Applied before the crash.
  EXPECT_EQ((*api.Get(kube::resources::ConfigMaps(), "ns", "a"))["data"]["v"], "1");

  std::ifstream log(plan.write_log);
  std::stringstream lines;
  lines << log.rdbuf();
  EXPECT_EQ(lines.str(),
            "1 create configmaps ns/a OK\n"
            "2 patch configmaps ns/a OK\n");
}

// Injected errors have the typed statuses of real ones; a 500 or a timeout on
// a write leaves it applied or not, both happen.
TEST(FaultyClientTest, InjectedErrorsAreTypedAndWritesMayBeAppliedAnyway) {
  runtime::FakeClient api;
  FaultPlan plan;
  plan.seed = 3;
  plan.error_rate = 1;
  FaultyClient faulty(&api, plan);
  int conflicts = 0, throttled = 0, server = 0, timeouts = 0, applied_but_failed = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string name = absl::StrCat("cm-", i);
    absl::StatusOr<json> created =
        faulty.Create(kube::resources::ConfigMaps(), "ns", ConfigMap(name), {});
    ASSERT_FALSE(created.ok());
    const absl::Status& s = created.status();
    conflicts += kube::IsConflict(s);
    throttled += kube::IsTooManyRequests(s) && kube::GetRetryAfter(s) == absl::Seconds(1);
    server += kube::GetHttpCode(s) == 500;
    timeouts += kube::IsTimeout(s);
    EXPECT_THAT(s.message(), HasSubstr("fault injection: create configmaps ns/" + name));
    if (api.Get(kube::resources::ConfigMaps(), "ns", name).ok()) {
      ++applied_but_failed;
      EXPECT_TRUE(kube::GetHttpCode(s) == 500 || kube::IsTimeout(s)) << s;
    }
  }
  EXPECT_GT(conflicts, 0);
  EXPECT_GT(throttled, 0);
  EXPECT_GT(server, 0);
  EXPECT_GT(timeouts, 0);
  EXPECT_GT(applied_but_failed, 0);
  EXPECT_LT(applied_but_failed, 100);
  // Reads fail too, never with a Conflict.
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<json> got = faulty.Get(kube::resources::ConfigMaps(), "ns", "cm-0", {});
    ASSERT_FALSE(got.ok());
    EXPECT_FALSE(kube::IsConflict(got.status()));
  }
}

TEST(FaultyClientTest, NoFaultsPassesEverythingThrough) {
  runtime::FakeClient api;
  FaultyClient faulty(&api, FaultPlan());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(
        faulty.Create(kube::resources::ConfigMaps(), "ns", ConfigMap(absl::StrCat("c", i)), {})
            .ok());
  }
  absl::StatusOr<json> list = faulty.List(kube::resources::ConfigMaps(), "ns", {});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)["items"].size(), 100u);
}

std::vector<kube::WatchEvent> Drain(kube::WatchStream& stream, int at_most) {
  std::vector<kube::WatchEvent> out;
  kube::WatchEvent e;
  while (static_cast<int>(out.size()) < at_most && stream.Next(&e)) out.push_back(e);
  return out;
}

// Held-back events for one key are coalesced: the informer misses
// intermediate states but always gets the last one, in order.
TEST(FaultyClientTest, WatchCoalescesHeldBackEventsButKeepsTheLast) {
  runtime::FakeClient api;
  FaultPlan plan;
  plan.watch_delay = absl::Seconds(1);
  plan.watch_coalesce = 1;
  FaultyClient faulty(&api, plan);
  absl::StatusOr<std::unique_ptr<kube::WatchStream>> watch =
      faulty.Watch(kube::resources::ConfigMaps(), "ns", {});
  ASSERT_TRUE(watch.ok());
  api.WaitForOpenWatches(1);
  ASSERT_TRUE(api.Create(kube::resources::ConfigMaps(), "ns", ConfigMap("a"), {}).ok());
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(api.MergePatch(kube::resources::ConfigMaps(), "ns", "a",
                               {{"data", {{"v", absl::StrCat(i)}}}})
                    .ok());
  }
  ASSERT_TRUE(api.Create(kube::resources::ConfigMaps(), "ns", ConfigMap("b"), {}).ok());
  std::vector<kube::WatchEvent> events = Drain(**watch, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, kube::EventType::kAdded);
  EXPECT_EQ(events[0].object["metadata"]["name"], "a");
  EXPECT_EQ(events[0].object["data"]["v"], "5");
  EXPECT_EQ(events[1].object["metadata"]["name"], "b");
  (*watch)->Cancel();
  EXPECT_FALSE((*watch)->Next(&events[0]));
}

// A watch ends after at most N events: cleanly, or with 410 so the informer
// lists again.
TEST(FaultyClientTest, WatchEndsAfterAFewEvents) {
  int clean = 0, gone = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    runtime::FakeClient api;
    FaultPlan plan;
    plan.seed = seed;
    plan.watch_end_after = 3;
    FaultyClient faulty(&api, plan);
    absl::StatusOr<std::unique_ptr<kube::WatchStream>> watch =
        faulty.Watch(kube::resources::ConfigMaps(), "ns", {});
    ASSERT_TRUE(watch.ok());
    api.WaitForOpenWatches(1);
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(
          api.Create(kube::resources::ConfigMaps(), "ns", ConfigMap(absl::StrCat("c", i)), {})
              .ok());
    }
    std::vector<kube::WatchEvent> events = Drain(**watch, 10);
    ASSERT_GE(events.size(), 1u);
    ASSERT_LE(events.size(), 4u);
    if (events.back().type == kube::EventType::kError) {
      EXPECT_TRUE(kube::IsGone(events.back().error) || kube::IsExpired(events.back().error))
          << events.back().error;
      ++gone;
    } else {
      ++clean;
    }
    EXPECT_TRUE((*watch)->status().ok()) << (*watch)->status();
  }
  EXPECT_GT(clean, 0);
  EXPECT_GT(gone, 0);
}

}  // namespace
}  // namespace weir::faults
