#include "runtime/recently_deleted.h"

#include <memory>

#include "gtest/gtest.h"

namespace weir::runtime {
namespace {

using nlohmann::json;

ObjectPtr Pod(const std::string& name, const json& labels) {
  return std::make_shared<const json>(
      json{{"metadata", {{"name", name}, {"namespace", "ns"}, {"labels", labels}}}});
}

std::vector<std::string> Names(const std::vector<ObjectPtr>& objects) {
  std::vector<std::string> names;
  for (const ObjectPtr& o : objects) names.push_back((*o)["metadata"]["name"]);
  return names;
}

class RecentlyDeletedTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  RecentlyDeleted deleted_{"weir.dev/batch-uid", absl::Minutes(2), &clock_};
};

TEST_F(RecentlyDeletedTest, KeepsFinalStatesByLabelValueOldestFirst) {
  deleted_.Add(Pod("a-1", {{"weir.dev/batch-uid", "a"}}));
  deleted_.Add(Pod("b-1", {{"weir.dev/batch-uid", "b"}}));
  deleted_.Add(Pod("a-2", {{"weir.dev/batch-uid", "a"}}));
  EXPECT_EQ(Names(deleted_.ByLabel("a")), (std::vector<std::string>{"a-1", "a-2"}));
  EXPECT_EQ(Names(deleted_.ByLabel("b")), (std::vector<std::string>{"b-1"}));
  EXPECT_TRUE(deleted_.ByLabel("c").empty());
  EXPECT_EQ(deleted_.size(), 3u);
}

TEST_F(RecentlyDeletedTest, IgnoresObjectsWithoutTheLabel) {
  deleted_.Add(Pod("other", {{"app", "x"}}));
  deleted_.Add(Pod("bad", {{"weir.dev/batch-uid", 3}}));
  deleted_.Add(std::make_shared<const json>(json{{"metadata", "not an object"}}));
  deleted_.Add(nullptr);
  EXPECT_EQ(deleted_.size(), 0u);
}

TEST_F(RecentlyDeletedTest, ForgetsEntriesAfterTheRetention) {
  deleted_.Add(Pod("a-1", {{"weir.dev/batch-uid", "a"}}));
  clock_.Advance(absl::Minutes(1));
  deleted_.Add(Pod("a-2", {{"weir.dev/batch-uid", "a"}}));
  deleted_.Add(Pod("b-1", {{"weir.dev/batch-uid", "b"}}));
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Names(deleted_.ByLabel("a")), (std::vector<std::string>{"a-2"}));
  EXPECT_EQ(deleted_.size(), 2u);
  clock_.Advance(absl::Minutes(1));
  EXPECT_TRUE(deleted_.ByLabel("a").empty());
  EXPECT_TRUE(deleted_.ByLabel("b").empty());
  EXPECT_EQ(deleted_.size(), 0u);
}

}  // namespace
}  // namespace weir::runtime
