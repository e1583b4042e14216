#include "runtime/fake_client.h"

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/errors.h"

namespace weir::runtime {
namespace {

using nlohmann::json;

const kube::ResourceRef kCm = kube::resources::ConfigMaps();

json Cm(const std::string& name, json labels = json::object()) {
  return {{"metadata", {{"name", name}, {"labels", labels}}}, {"data", {{"k", "v"}}}};
}

TEST(FakeClientTest, CrudWithOptimisticConcurrency) {
  FakeClient client;
  absl::StatusOr<json> created = client.Create(kCm, "ns", Cm("a"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)["metadata"]["namespace"], "ns");
  EXPECT_FALSE((*created)["metadata"].value("uid", "").empty());
  EXPECT_TRUE(kube::IsAlreadyExists(client.Create(kCm, "ns", Cm("a")).status()));

  json stale = *created;
  json update = *created;
  update["data"]["k"] = "v2";
  absl::StatusOr<json> updated = client.Update(kCm, "ns", update);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_NE((*updated)["metadata"]["resourceVersion"], (*created)["metadata"]["resourceVersion"]);
  stale["data"]["k"] = "lost";
  EXPECT_TRUE(kube::IsConflict(client.Update(kCm, "ns", stale).status()));

  absl::StatusOr<json> patched = client.MergePatch(kCm, "ns", "a", {{"data", {{"k2", "x"}}}});
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ((*patched)["data"], json({{"k", "v2"}, {"k2", "x"}}));
  EXPECT_TRUE(kube::IsConflict(
      client.MergePatch(kCm, "ns", "a", {{"metadata", {{"resourceVersion", "1"}}}}).status()));

  EXPECT_TRUE(client.Delete(kCm, "ns", "a").ok());
  EXPECT_TRUE(kube::IsNotFound(client.Get(kCm, "ns", "a").status()));
  EXPECT_TRUE(kube::IsNotFound(client.Delete(kCm, "ns", "a").status()));
}

TEST(FakeClientTest, FinalizersDelayDeletion) {
  FakeClient client;
  json cm = Cm("a");
  cm["metadata"]["finalizers"] = {"weir.dev/cleanup"};
  ASSERT_TRUE(client.Create(kCm, "ns", cm).ok());
  absl::StatusOr<json> deleting = client.Delete(kCm, "ns", "a");
  ASSERT_TRUE(deleting.ok());
  EXPECT_TRUE((*deleting)["metadata"].contains("deletionTimestamp"));
  ASSERT_TRUE(client.Get(kCm, "ns", "a").ok());
  ASSERT_TRUE(client.MergePatch(kCm, "ns", "a", {{"metadata", {{"finalizers", nullptr}}}}).ok());
  EXPECT_TRUE(kube::IsNotFound(client.Get(kCm, "ns", "a").status()));
}

TEST(FakeClientTest, PaginatedListAndExpiredToken) {
  FakeClient client;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.Create(kCm, "ns", Cm(absl::StrCat("c", i))).ok());
  ASSERT_TRUE(client.Create(kCm, "other", Cm("x")).ok());
  kube::ListOptions small;
  small.limit = 2;
  absl::StatusOr<json> all = client.ListAll(kCm, "ns", small);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)["items"].size(), 5u);
  EXPECT_EQ(client.Calls("list"), 3);

  kube::ListOptions four;
  four.limit = 4;
  absl::StatusOr<json> page = client.List(kCm, "", four);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ((*page)["items"].size(), 4u);
  client.ExpireContinueTokens();
  kube::ListOptions next;
  next.continue_token = (*page)["metadata"]["continue"];
  EXPECT_TRUE(kube::IsExpired(client.List(kCm, "", next).status()));
}

TEST(FakeClientTest, WatchReplaysHistoryAndStreamsLiveChanges) {
  FakeClient client;
  ASSERT_TRUE(client.Create(kCm, "ns", Cm("a")).ok());
  std::string rv = client.ResourceVersion();
  ASSERT_TRUE(client.Create(kCm, "ns", Cm("b", {{"x", "1"}})).ok());
  kube::WatchOptions options;
  options.resource_version = rv;
  absl::StatusOr<std::unique_ptr<kube::WatchStream>> w = client.Watch(kCm, "ns", options);
  ASSERT_TRUE(w.ok());
  kube::WatchEvent e;
  ASSERT_TRUE((*w)->Next(&e));
  EXPECT_EQ(e.type, kube::EventType::kAdded);
  EXPECT_EQ(e.object["metadata"]["name"], "b");
  ASSERT_TRUE(client.Delete(kCm, "ns", "a").ok());
  ASSERT_TRUE((*w)->Next(&e));
  EXPECT_EQ(e.type, kube::EventType::kDeleted);
  EXPECT_EQ(e.object["metadata"]["resourceVersion"], client.ResourceVersion());
  client.DropWatches();
  EXPECT_FALSE((*w)->Next(&e));
  EXPECT_TRUE(kube::IsConnectionFailed((*w)->status()));
}

TEST(FakeClientTest, LabelSelectorFiltersWatchAndList) {
  FakeClient client;
  kube::WatchOptions options;
  options.label_selector = "x=1";
  absl::StatusOr<std::unique_ptr<kube::WatchStream>> w = client.Watch(kCm, "", options);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(client.Create(kCm, "ns", Cm("a", {{"x", "2"}})).ok());
  ASSERT_TRUE(client.Create(kCm, "ns", Cm("b", {{"x", "1"}})).ok());
  kube::WatchEvent e;
  ASSERT_TRUE((*w)->Next(&e));
  EXPECT_EQ(e.object["metadata"]["name"], "b");
  kube::ListOptions not_x1;
  not_x1.label_selector = "x!=1";
  absl::StatusOr<json> list = client.List(kCm, "", not_x1);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ((*list)["items"].size(), 1u);
  EXPECT_EQ((*list)["items"][0]["metadata"]["name"], "a");
}

TEST(FakeClientTest, CompactMakesOldVersionsGone) {
  FakeClient client;
  std::string rv = client.ResourceVersion();
  ASSERT_TRUE(client.Create(kCm, "ns", Cm("a")).ok());
  client.Compact();
  kube::WatchOptions options;
  options.resource_version = rv;
  EXPECT_TRUE(kube::IsGone(client.Watch(kCm, "", options).status()));

  client.Compact(/*gone_as_event=*/true);
  absl::StatusOr<std::unique_ptr<kube::WatchStream>> w = client.Watch(kCm, "", options);
  ASSERT_TRUE(w.ok());
  kube::WatchEvent e;
  ASSERT_TRUE((*w)->Next(&e));
  EXPECT_EQ(e.type, kube::EventType::kError);
  EXPECT_TRUE(kube::IsGone(e.error));
  EXPECT_EQ(e.object["code"], 410);
  EXPECT_FALSE((*w)->Next(&e));
}

TEST(FakeClientTest, CancelUnblocksNextAndFailuresAreInjected) {
  FakeClient client;
  absl::StatusOr<std::unique_ptr<kube::WatchStream>> w = client.Watch(kCm, "", {});
  ASSERT_TRUE(w.ok());
  client.WaitForOpenWatches(1);
  std::thread reader([&] {
    kube::WatchEvent e;
    EXPECT_FALSE((*w)->Next(&e));
  });
  (*w)->Cancel();
  reader.join();
  EXPECT_TRUE(kube::IsCanceled((*w)->status()));

  client.FailNext("get", kube::NewTimeout("slow"), 2);
  EXPECT_TRUE(kube::IsTimeout(client.Get(kCm, "ns", "x").status()));
  EXPECT_TRUE(kube::IsTimeout(client.Get(kCm, "ns", "x").status()));
  EXPECT_TRUE(kube::IsNotFound(client.Get(kCm, "ns", "x").status()));
  EXPECT_EQ(client.Calls("get"), 3);
}

}  // namespace
}  // namespace weir::runtime
