#include "runtime/event_recorder.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/errors.h"
#include "runtime/fake_client.h"

namespace weir::runtime {
namespace {

using nlohmann::json;

const kube::ResourceRef kEvents = kube::resources::CoreEvents();

ObjectReference Batch(const std::string& name = "b1") {
  return ObjectReference::From({{"apiVersion", "weir.dev/v1alpha1"},
                                {"kind", "Batch"},
                                {"metadata",
                                 {{"name", name},
                                  {"namespace", "team"},
                                  {"uid", "uid-" + name},
                                  {"resourceVersion", "7"}}}});
}

class EventRecorderTest : public ::testing::Test {
 protected:
  EventRecorderOptions Options(size_t capacity = 16, size_t cache = 16) {
    EventRecorderOptions o;
    o.host = "test-host";
    o.clock = &clock_;
    o.queue_capacity = capacity;
    o.cache_size = cache;
    return o;
  }
  std::vector<json> Events() { return client_.Objects(kEvents); }

  // Makes the next create block until Release(); Entered() then says the
  // sender is inside it.
  void BlockNextCreate() {
    client_.SetInterceptor([this](absl::string_view verb, const kube::ResourceRef&,
                                  absl::string_view, absl::string_view) {
      if (verb == "create" && !entered_.HasBeenNotified()) {
        entered_.Notify();
        release_.WaitForNotification();
      }
      return absl::OkStatus();
    });
  }

  FakeClock clock_;
  FakeClient client_{&clock_};
  absl::Notification entered_;
  absl::Notification release_;
};

TEST_F(EventRecorderTest, CreatesACoreEventForTheObject) {
  EventRecorder recorder(&client_, Options());
  recorder.Normal(Batch(), "AttemptStarted", "started attempt 1 as job b1-main-1-x");
  recorder.Flush();
  std::vector<json> events = Events();
  ASSERT_EQ(events.size(), 1u);
  const json& e = events[0];
  EXPECT_EQ(e["metadata"]["namespace"], "team");
  EXPECT_TRUE(e["metadata"]["name"].get<std::string>().starts_with("b1."));
  EXPECT_EQ(e["involvedObject"], json({{"apiVersion", "weir.dev/v1alpha1"},
                                       {"kind", "Batch"},
                                       {"namespace", "team"},
                                       {"name", "b1"},
                                       {"uid", "uid-b1"},
                                       {"resourceVersion", "7"}}));
  EXPECT_EQ(e["type"], "Normal");
  EXPECT_EQ(e["reason"], "AttemptStarted");
  EXPECT_EQ(e["message"], "started attempt 1 as job b1-main-1-x");
  EXPECT_EQ(e["count"], 1);
  EXPECT_EQ(e["source"], json({{"component", "weir-controller"}, {"host", "test-host"}}));
  EXPECT_EQ(e["reportingComponent"], "weir-controller");
  const std::string now = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", clock_.Now(), absl::UTCTimeZone());
  EXPECT_EQ(e["firstTimestamp"], now);
  EXPECT_EQ(e["lastTimestamp"], now);
  EXPECT_EQ(recorder.stats().created, 1);
}

TEST_F(EventRecorderTest, RepeatsArePatchedNotCreated) {
  EventRecorder recorder(&client_, Options());
  recorder.Warning(Batch(), "AttemptFailed", "exit 1");
  recorder.Flush();
  const std::string first = Events()[0]["firstTimestamp"];
  clock_.Advance(absl::Minutes(1));
  recorder.Warning(Batch(), "AttemptFailed", "exit 1");
  recorder.Flush();
  std::vector<json> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["count"], 2);
  EXPECT_EQ(events[0]["firstTimestamp"], first);
  EXPECT_NE(events[0]["lastTimestamp"], first);
  EXPECT_EQ(client_.Calls("patch"), 1);

  // Any difference (message, reason, type, object) is a new Event.
  recorder.Warning(Batch(), "AttemptFailed", "exit 2");
  recorder.Normal(Batch(), "AttemptFailed", "exit 1");
  recorder.Warning(Batch("b2"), "AttemptFailed", "exit 1");
  recorder.Flush();
  EXPECT_EQ(Events().size(), 4u);
  EventRecorder::Stats stats = recorder.stats();
  EXPECT_EQ(stats.created, 4);
  EXPECT_EQ(stats.patched, 1);
  EXPECT_EQ(stats.recorded, 5);
}

TEST_F(EventRecorderTest, NeverBlocksAndMergesQueuedRepeats) {
  BlockNextCreate();
  EventRecorder recorder(&client_, Options(/*capacity=*/2));
  recorder.Normal(Batch(), "Stuck", "the first write hangs");
  entered_.WaitForNotification();  // the sender is blocked in Create
  for (int i = 0; i < 100; ++i) recorder.Normal(Batch(), "Repeated", "same");  // one entry
  recorder.Normal(Batch(), "Other", "second entry");
  recorder.Normal(Batch(), "Third", "queue full: dropped");
  EventRecorder::Stats stats = recorder.stats();
  EXPECT_EQ(stats.recorded, 102);
  EXPECT_EQ(stats.dropped, 1);
  release_.Notify();
  recorder.Flush();
  std::vector<json> events = Events();
  ASSERT_EQ(events.size(), 3u);
  int64_t repeated = 0;
  for (const json& e : events) {
    if (e["reason"] == "Repeated") repeated = e["count"];
  }
  EXPECT_EQ(repeated, 100);
  EXPECT_EQ(recorder.stats().created, 3);
}

TEST_F(EventRecorderTest, ExpiredEventIsCreatedAgain) {
  EventRecorder recorder(&client_, Options());
  recorder.Normal(Batch(), "Synced", "ok");
  recorder.Flush();
  const std::string name = Events()[0]["metadata"]["name"];
  ASSERT_TRUE(client_.Delete(kEvents, "team", name).ok());
  recorder.Normal(Batch(), "Synced", "ok");
  recorder.Flush();
  std::vector<json> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_NE(events[0]["metadata"]["name"], name);
  EXPECT_EQ(recorder.stats().created, 2);
}

TEST_F(EventRecorderTest, LruCacheForgetsTheOldest) {
  EventRecorder recorder(&client_, Options(16, /*cache=*/1));
  recorder.Normal(Batch(), "A", "a");
  recorder.Flush();
  recorder.Normal(Batch(), "B", "b");
  recorder.Flush();
  recorder.Normal(Batch(), "A", "a");  // evicted by B: created anew
  recorder.Flush();
  recorder.Normal(Batch(), "A", "a");  // cached again: patched
  recorder.Flush();
  EventRecorder::Stats stats = recorder.stats();
  EXPECT_EQ(stats.created, 3);
  EXPECT_EQ(stats.patched, 1);
}

TEST_F(EventRecorderTest, ClusterScopedObjectsGoToDefault) {
  EventRecorder recorder(&client_, Options());
  recorder.Normal(ObjectReference::From(
                      {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "n1"}}}}),
                  "Seen", "node");
  recorder.Flush();
  ASSERT_EQ(Events().size(), 1u);
  EXPECT_EQ(Events()[0]["metadata"]["namespace"], "default");
  EXPECT_FALSE(Events()[0]["involvedObject"].contains("namespace"));
}

TEST_F(EventRecorderTest, FailuresAreCountedAndLongMessagesCut) {
  client_.FailNext("create", kube::NewConnectionFailed("refused"));
  EventRecorder recorder(&client_, Options());
  recorder.Normal(Batch(), "Lost", "x");
  recorder.Flush();
  EXPECT_EQ(recorder.stats().failed, 1);
  EXPECT_TRUE(Events().empty());

  recorder.Normal(Batch(), "Long", std::string(5000, 'm'));
  recorder.Flush();
  ASSERT_EQ(Events().size(), 1u);
  EXPECT_EQ(Events()[0]["message"].get<std::string>().size(), 1024u);
}

TEST_F(EventRecorderTest, ShutdownDrainsThenRefuses) {
  EventRecorder recorder(&client_, Options());
  recorder.Normal(Batch(), "Before", "x");
  recorder.Shutdown(absl::Seconds(5));
  EXPECT_EQ(Events().size(), 1u);
  recorder.Normal(Batch(), "After", "x");
  EXPECT_EQ(recorder.stats().dropped, 1);
  recorder.Shutdown();  // idempotent
}

TEST_F(EventRecorderTest, ShutdownGivesUpAfterTheDrainDeadline) {
  BlockNextCreate();
  EventRecorder recorder(&client_, Options());
  recorder.Normal(Batch(), "Stuck", "hangs");
  entered_.WaitForNotification();
  recorder.Normal(Batch(), "Queued", "never sent");
  std::thread stopper([&] { recorder.Shutdown(absl::Seconds(2)); });
  clock_.WaitForWaiters(1);
  clock_.Advance(absl::Seconds(3));
  // The drain wait leaves the clock while holding the recorder's lock and
  // gives up the queue before releasing it, so once it is gone from the
  // clock the queued event can no longer be sent.
  while (clock_.NumWaiters() > 0) std::this_thread::yield();
  release_.Notify();  // let the stuck write return so the sender can exit
  stopper.join();
  EXPECT_EQ(recorder.stats().dropped, 1);
  EXPECT_EQ(Events().size(), 1u);
}

}  // namespace
}  // namespace weir::runtime
