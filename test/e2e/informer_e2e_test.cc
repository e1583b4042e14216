// The informer (runtime/informer.h) against the real API server: it sees
// every change, converges to the server's state across a kube-apiserver
// restart with no handler ever seeing an older version after a newer one,
// and a too-old resourceVersion leads to a relist rather than a hang.
//
// Needs KUBECONFIG from `eval "$(hack/cluster.sh env)"`.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/config.h"
#include "kube/errors.h"
#include "kube/http_client.h"
#include "runtime/informer.h"
#include "test/e2e/support/eventually.h"
#include "test/e2e/support/rest_config.h"

namespace weir::e2e {
namespace {

using nlohmann::json;
using runtime::Informer;
using runtime::InformerOptions;
using runtime::ObjectPtr;

const kube::ResourceRef kCm = kube::resources::ConfigMaps();
constexpr char kSelector[] = "weir.dev/test=informer";

absl::StatusOr<std::unique_ptr<kube::HttpClient>> ClientFromEnv() {
  absl::StatusOr<kube::RestConfig> config = e2e::RestConfigFromEnv();
  if (!config.ok()) return config.status();
  config->qps = 200;
  config->burst = 400;
  return kube::HttpClient::New(*config);
}

int64_t Rv(const json& o) {
  int64_t rv = 0;
  (void)absl::SimpleAtoi(o["metadata"].value("resourceVersion", "0"), &rv);
  return rv;
}

// Records, per object, the versions handlers saw; flags any that goes back.
class History final : public runtime::ResourceEventHandler {
 public:
  void OnAdd(const ObjectPtr& o) override { Saw("ADD", *o, false); }
  void OnUpdate(const ObjectPtr& old, const ObjectPtr& o) override {
    if (Rv(*o) <= Rv(*old)) Stale(absl::StrCat("update not newer than old: ", Rv(*o)));
    Saw("UPDATE", *o, false);
  }
  void OnDelete(const ObjectPtr& o) override { Saw("DELETE", *o, true); }

  std::map<std::string, std::vector<std::string>> log() {
    absl::MutexLock l(&mu_);
    return log_;
  }
  std::vector<std::string> stale() {
    absl::MutexLock l(&mu_);
    return stale_;
  }
  int64_t events() {
    absl::MutexLock l(&mu_);
    return events_;
  }

 private:
  void Saw(const char* what, const json& o, bool is_delete) {
    const std::string name = o["metadata"].value("name", "");
    const int64_t rv = Rv(o);
    absl::MutexLock l(&mu_);
    ++events_;
    // A relist's delete carries the last known version (equal); anything
    // else must be strictly newer than what was seen before.
    int64_t& last = last_rv_[name];
    if (rv < last || (rv == last && !is_delete)) {
      stale_.push_back(absl::StrCat(what, " ", name, " rv ", rv, " after ", last));
    }
    last = std::max(last, rv);
    std::string v;
    if (o.contains("data")) v = o["data"].value("v", "");
    log_[name].push_back(absl::StrCat(what, " ", v));
  }
  void Stale(std::string s) {
    absl::MutexLock l(&mu_);
    stale_.push_back(std::move(s));
  }
  absl::Mutex mu_;
  std::map<std::string, int64_t> last_rv_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::string>> log_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> stale_ ABSL_GUARDED_BY(mu_);
  int64_t events_ ABSL_GUARDED_BY(mu_) = 0;
};

class InformerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<kube::HttpClient>> c = ClientFromEnv();
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
    ns_ = absl::StrCat("weir-informer-", getpid(), "-", absl::Uniform(gen_, 0, 1000000));
    ASSERT_TRUE(
        client_->Create(kube::resources::Namespaces(), "", {{"metadata", {{"name", ns_}}}}).ok());
  }
  void TearDown() override {
    if (informer_ != nullptr) informer_->Stop();
    if (client_ != nullptr) (void)client_->Delete(kube::resources::Namespaces(), "", ns_);
  }

  void StartInformer(kube::Client* client = nullptr) {
    InformerOptions options;
    options.reflector.resource = kCm;
    options.reflector.ns = ns_;
    options.reflector.label_selector = kSelector;
    options.reflector.initial_backoff = absl::Milliseconds(200);
    options.reflector.max_backoff = absl::Seconds(2);
    informer_ = std::make_unique<Informer>(client != nullptr ? client : client_.get(), options);
    informer_->AddEventHandler(history_);
    informer_->Start();
    ASSERT_TRUE(informer_->WaitForSync(absl::Now() + absl::Seconds(30)));
  }

  json Cm(const std::string& name, const std::string& v) {
    return {{"metadata", {{"name", name}, {"labels", {{"weir.dev/test", "informer"}}}}},
            {"data", {{"v", v}}}};
  }

  // name -> resourceVersion, from the server and from the cache.
  std::map<std::string, std::string> ServerState() {
    kube::ListOptions lo;
    lo.label_selector = kSelector;
    absl::StatusOr<json> list = client_->ListAll(kCm, ns_, lo);
    EXPECT_TRUE(list.ok()) << list.status();
    std::map<std::string, std::string> out;
    if (!list.ok()) return out;
    for (const json& o : (*list)["items"]) {
      out[o["metadata"]["name"]] = o["metadata"]["resourceVersion"];
    }
    return out;
  }
  std::map<std::string, std::string> CacheState() {
    std::map<std::string, std::string> out;
    for (const ObjectPtr& o : informer_->store().List()) {
      out[(*o)["metadata"]["name"]] = (*o)["metadata"]["resourceVersion"];
    }
    return out;
  }

  absl::BitGen gen_;
  std::unique_ptr<kube::HttpClient> client_;
  std::string ns_;
  std::shared_ptr<History> history_ = std::make_shared<History>();
  std::unique_ptr<Informer> informer_;
};

TEST_F(InformerE2eTest, SeesEveryCreateUpdateAndDelete) {
  StartInformer();
  constexpr int kObjects = 20;
  for (int i = 0; i < kObjects; ++i) {
    ASSERT_TRUE(client_->Create(kCm, ns_, Cm(absl::StrCat("cm-", i), "0")).ok());
  }
  for (int v = 1; v <= 2; ++v) {
    for (int i = 0; i < kObjects; ++i) {
      ASSERT_TRUE(
          client_
              ->MergePatch(kCm, ns_, absl::StrCat("cm-", i), {{"data", {{"v", std::to_string(v)}}}})
              .ok());
    }
  }
  for (int i = 0; i < kObjects; i += 2) {
    ASSERT_TRUE(client_->Delete(kCm, ns_, absl::StrCat("cm-", i)).ok());
  }
  const int64_t expected_events = kObjects * 3 + kObjects / 2;
  ASSERT_TRUE(Eventually([&] { return history_->events() >= expected_events; }, absl::Seconds(30)))
      << history_->events();
  std::map<std::string, std::vector<std::string>> log = history_->log();
  for (int i = 0; i < kObjects; ++i) {
    std::vector<std::string> want = {"ADD 0", "UPDATE 1", "UPDATE 2"};
    if (i % 2 == 0) want.push_back("DELETE 2");
    EXPECT_EQ(log[absl::StrCat("cm-", i)], want) << "cm-" << i;
  }
  EXPECT_EQ(CacheState(), ServerState());
  EXPECT_EQ(informer_->store().size(), static_cast<size_t>(kObjects / 2));
  EXPECT_THAT(history_->stale(), ::testing::IsEmpty());
  EXPECT_EQ(informer_->reflector().stats().relists, 0);
}

// Rewrites the first Watch to start at resourceVersion "1", far older than
// anything the API server keeps.
class StaleFirstWatch final : public kube::Client {
 public:
  explicit StaleFirstWatch(kube::Client* c) : c_(c) {}
  absl::StatusOr<json> Get(const kube::ResourceRef& r, absl::string_view ns, absl::string_view name,
                           const kube::GetOptions& o) override {
    return c_->Get(r, ns, name, o);
  }
  absl::StatusOr<json> List(const kube::ResourceRef& r, absl::string_view ns,
                            const kube::ListOptions& o) override {
    return c_->List(r, ns, o);
  }
  absl::StatusOr<json> Create(const kube::ResourceRef& r, absl::string_view ns, const json& obj,
                              const kube::CreateOptions& o) override {
    return c_->Create(r, ns, obj, o);
  }
  absl::StatusOr<json> Update(const kube::ResourceRef& r, absl::string_view ns, const json& obj,
                              const kube::UpdateOptions& o) override {
    return c_->Update(r, ns, obj, o);
  }
  absl::StatusOr<json> Patch(const kube::ResourceRef& r, absl::string_view ns,
                             absl::string_view name, kube::PatchType t, const json& p,
                             const kube::PatchOptions& o) override {
    return c_->Patch(r, ns, name, t, p, o);
  }
  absl::StatusOr<json> Delete(const kube::ResourceRef& r, absl::string_view ns,
                              absl::string_view name, const kube::DeleteOptions& o) override {
    return c_->Delete(r, ns, name, o);
  }
  absl::StatusOr<std::unique_ptr<kube::WatchStream>> Watch(const kube::ResourceRef& r,
                                                           absl::string_view ns,
                                                           const kube::WatchOptions& o) override {
    kube::WatchOptions changed = o;
    if (!rewritten_.exchange(true)) changed.resource_version = "1";
    return c_->Watch(r, ns, changed);
  }

 private:
  kube::Client* c_;
  std::atomic<bool> rewritten_{false};
};

TEST_F(InformerE2eTest, TooOldResourceVersionRelistsInsteadOfHanging) {
  ASSERT_TRUE(client_->Create(kCm, ns_, Cm("before", "0")).ok());
  StaleFirstWatch stale(client_.get());
  StartInformer(&stale);
  ASSERT_TRUE(
      Eventually([&] { return informer_->reflector().stats().relists >= 1; }, absl::Seconds(20)))
      << "no relist after a watch from resourceVersion 1";
  ASSERT_TRUE(client_->Create(kCm, ns_, Cm("after", "0")).ok());
  ASSERT_TRUE(Eventually([&] { return CacheState() == ServerState(); }, absl::Seconds(20)));
  EXPECT_EQ(informer_->store().size(), 2u);
  EXPECT_THAT(history_->stale(), ::testing::IsEmpty());
}

// The only test that restarts kube-apiserver (it briefly disrupts everyone
// sharing the control plane).
TEST_F(InformerE2eTest, ConvergesAcrossAnApiServerRestart) {
  StartInformer();
  std::atomic<bool> stop{false};
  std::atomic<int64_t> writes{0};
  std::atomic<int64_t> failed_writes{0};
  std::thread writer([&] {
    absl::BitGen gen;
    int i = 0;
    while (!stop) {
      const std::string name = absl::StrCat("cm-", absl::Uniform(gen, 0, 30));
      absl::Status s;
      switch (absl::Uniform(gen, 0, 3)) {
        case 0:
          s = client_->Create(kCm, ns_, Cm(name, std::to_string(i))).status();
          break;
        case 1:
          s = client_->MergePatch(kCm, ns_, name, {{"data", {{"v", std::to_string(i)}}}}).status();
          break;
        default:
          s = client_->Delete(kCm, ns_, name).status();
          break;
      }
      ++i;
      if (s.ok()) {
        ++writes;
      } else if (!kube::IsNotFound(s) && !kube::IsAlreadyExists(s)) {
        ++failed_writes;
        absl::SleepFor(absl::Milliseconds(100));  // the API server is down: pace the writer
      }
    }
  });
  absl::SleepFor(absl::Seconds(3));  // a stream of changes before the restart
  const absl::Time restart_start = absl::Now();
  const int rc =
      std::system("'" WEIR_SOURCE_DIR "/hack/cluster.sh' restart kube-apiserver >/dev/null 2>&1");
  const absl::Duration restart_took = absl::Now() - restart_start;
  EXPECT_EQ(rc, 0) << "hack/cluster.sh restart kube-apiserver failed";
  absl::SleepFor(absl::Seconds(3));  // and more after it
  stop = true;
  writer.join();
  EXPECT_GT(failed_writes.load(), 0) << "the restart did not interrupt the writer";

  const absl::Time converge_start = absl::Now();
  EXPECT_TRUE(Eventually([&] { return CacheState() == ServerState(); }, absl::Seconds(60)))
      << "cache " << CacheState().size() << " objects, server " << ServerState().size();
  const absl::Duration converge_took = absl::Now() - converge_start;
  EXPECT_THAT(history_->stale(), ::testing::IsEmpty());
  runtime::Reflector::Stats stats = informer_->reflector().stats();
  EXPECT_GE(stats.watch_restarts, 1);
  RecordProperty("writes", static_cast<int>(writes.load()));
  RecordProperty("restart_ms", static_cast<int>(absl::ToInt64Milliseconds(restart_took)));
  RecordProperty("converge_ms", static_cast<int>(absl::ToInt64Milliseconds(converge_took)));
  std::cerr << "writes=" << writes << " failed_writes=" << failed_writes
            << " restart=" << restart_took << " converged_after_writer_stop=" << converge_took
            << " watch_restarts=" << stats.watch_restarts << " relists=" << stats.relists
            << " events=" << history_->events() << "\n";
}

}  // namespace
}  // namespace weir::e2e
