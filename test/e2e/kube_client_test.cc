// End-to-end tests of kube::HttpClient against the real local control plane
// (hack/cluster.sh up). They read KUBECONFIG from the environment and fail,
// not skip, when it is unset. Each run works in a namespace of its own.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/errors.h"
#include "kube/http_client.h"
#include "test/e2e/support/eventually.h"

namespace weir::kube {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::weir::e2e::Eventually;

class CountingObserver : public RequestObserver {
 public:
  void OnRequest(const RequestRecord& r) override {
    if (r.code == 0) ++no_response_;
    ++total_;
  }
  std::atomic<int> total_{0};
  std::atomic<int> no_response_{0};
};

// Whether the ConfigMap `name` is gone: NotFound is the answer "yes", any
// other error fails the probe.
absl::StatusOr<bool> Gone(kube::Client& client, const std::string& ns, const std::string& name) {
  absl::Status got = client.Get(kube::resources::ConfigMaps(), ns, name).status();
  if (kube::IsNotFound(got)) return true;
  if (!got.ok()) return got;
  return false;
}

json ConfigMap(const std::string& name, json data = json::object(), json labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"data", data}};
}

std::string Rv(const json& obj) { return obj["metadata"]["resourceVersion"].get<std::string>(); }

class KubeClientE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* kubeconfig = std::getenv("KUBECONFIG");
    if (kubeconfig == nullptr || *kubeconfig == '\0') {
      setup_error_ =
          "KUBECONFIG is not set: start the control plane with `hack/cluster.sh up` and "
          "export the KUBECONFIG it prints";
      return;
    }
    LoadOptions lo;
    lo.kubeconfig = kubeconfig;
    absl::StatusOr<RestConfig> config = LoadConfig(lo);
    if (!config.ok()) {
      setup_error_ = absl::StrCat("cannot load ", kubeconfig, ": ", config.status().ToString());
      return;
    }
    config->qps = 100;
    config->burst = 200;
    config_ = *config;
    HttpClientOptions options;
    options.observer = &observer_;
    absl::StatusOr<std::unique_ptr<HttpClient>> client = HttpClient::New(*config, options);
    if (!client.ok()) {
      setup_error_ = client.status().ToString();
      return;
    }
    client_ = client->release();
    std::mt19937 rng(std::random_device{}());
    ns_ = absl::StrCat("kube-e2e-", rng() % 1000000);
    absl::StatusOr<json> created = client_->Create(
        resources::Namespaces(), "",
        {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}});
    if (!created.ok())
      setup_error_ = absl::StrCat("create namespace: ", created.status().ToString());
  }

  static void TearDownTestSuite() {
    if (client_ != nullptr && !ns_.empty()) {
      (void)client_->Delete(resources::Namespaces(), "", ns_);
    }
    delete client_;
    client_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static inline RestConfig config_;
  static inline std::string setup_error_;
  static inline Client* client_ = nullptr;
  static inline std::string ns_;
  static inline CountingObserver observer_;
};

TEST_F(KubeClientE2E, ConfigMapCrud) {
  absl::StatusOr<json> created =
      client_->Create(resources::ConfigMaps(), ns_, ConfigMap("crud", {{"a", "1"}}));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)["metadata"]["namespace"], ns_);
  EXPECT_FALSE((*created)["metadata"]["uid"].get<std::string>().empty());

  absl::StatusOr<json> got = client_->Get(resources::ConfigMaps(), ns_, "crud");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["data"]["a"], "1");

  json changed = *got;
  changed["data"]["b"] = "2";
  absl::StatusOr<json> updated = client_->Update(resources::ConfigMaps(), ns_, changed);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ((*updated)["data"]["b"], "2");
  EXPECT_NE(Rv(*updated), Rv(*got));

  absl::StatusOr<json> deleted = client_->Delete(resources::ConfigMaps(), ns_, "crud");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  absl::StatusOr<json> gone = client_->Get(resources::ConfigMaps(), ns_, "crud");
  EXPECT_TRUE(kube::IsNotFound(gone.status())) << gone.status();
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_GT(observer_.total_, 0);
}

TEST_F(KubeClientE2E, ListPaginationAndSelectors) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_
                    ->Create(resources::ConfigMaps(), ns_,
                             ConfigMap(absl::StrCat("page-", i), {}, {{"e2e", "paging"}}))
                    .ok());
  }
  ListOptions o;
  o.label_selector = "e2e=paging";
  o.limit = 2;
  absl::StatusOr<json> page = client_->List(resources::ConfigMaps(), ns_, o);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ((*page)["items"].size(), 2u);
  std::string cont = (*page)["metadata"].value("continue", "");
  EXPECT_FALSE(cont.empty());

  std::set<std::string> names;
  for (const json& item : (*page)["items"]) names.insert(item["metadata"]["name"]);
  while (!cont.empty()) {
    o.continue_token = cont;
    absl::StatusOr<json> next = client_->List(resources::ConfigMaps(), ns_, o);
    ASSERT_TRUE(next.ok()) << next.status();
    for (const json& item : (*next)["items"]) names.insert(item["metadata"]["name"]);
    cont = (*next)["metadata"].value("continue", "");
  }
  EXPECT_EQ(names.size(), 5u);

  ListOptions all_opts;
  all_opts.label_selector = "e2e=paging";
  all_opts.limit = 2;
  absl::StatusOr<json> all = client_->ListAll(resources::ConfigMaps(), ns_, all_opts);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ((*all)["items"].size(), 5u);
  EXPECT_FALSE(Rv(*all).empty());

  ListOptions by_field;
  by_field.field_selector = "metadata.name=page-3";
  absl::StatusOr<json> one = client_->List(resources::ConfigMaps(), ns_, by_field);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ((*one)["items"].size(), 1u);
  EXPECT_EQ((*one)["items"][0]["metadata"]["name"], "page-3");
}

TEST_F(KubeClientE2E, StaleResourceVersionIsConflict) {
  absl::StatusOr<json> v1 = client_->Create(resources::ConfigMaps(), ns_, ConfigMap("stale"));
  ASSERT_TRUE(v1.ok()) << v1.status();
  json first = *v1;
  first["data"]["x"] = "1";
  ASSERT_TRUE(client_->Update(resources::ConfigMaps(), ns_, first).ok());
  json second = *v1;  // still carries the old resourceVersion
  second["data"]["x"] = "2";
  absl::StatusOr<json> r = client_->Update(resources::ConfigMaps(), ns_, second);
  EXPECT_TRUE(kube::IsConflict(r.status())) << r.status();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(GetHttpCode(r.status()), 409);
}

TEST_F(KubeClientE2E, ErrorMapping) {
  absl::StatusOr<json> missing = client_->Get(resources::ConfigMaps(), ns_, "does-not-exist");
  EXPECT_TRUE(kube::IsNotFound(missing.status())) << missing.status();
  EXPECT_THAT(missing.status().message(), HasSubstr("does-not-exist"));

  ASSERT_TRUE(client_->Create(resources::ConfigMaps(), ns_, ConfigMap("dup")).ok());
  absl::StatusOr<json> dup = client_->Create(resources::ConfigMaps(), ns_, ConfigMap("dup"));
  EXPECT_TRUE(kube::IsAlreadyExists(dup.status())) << dup.status();
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);

  absl::StatusOr<json> invalid =
      client_->Create(resources::ConfigMaps(), ns_, ConfigMap("Not_A_Valid_Name"));
  EXPECT_TRUE(kube::IsInvalid(invalid.status())) << invalid.status();
  EXPECT_EQ(GetHttpCode(invalid.status()), 422);
  std::vector<Cause> causes = GetCauses(invalid.status());
  ASSERT_FALSE(causes.empty());
  EXPECT_EQ(causes[0].field, "metadata.name");
  EXPECT_THAT(invalid.status().message(), HasSubstr("metadata.name"));

  absl::StatusOr<json> no_kind =
      client_->Get({"weir.dev", "v1alpha1", "nonexistentthings", true, ""}, ns_, "x");
  EXPECT_TRUE(kube::IsNotFound(no_kind.status())) << no_kind.status();
}

TEST_F(KubeClientE2E, MergeAndJsonPatch) {
  ASSERT_TRUE(client_->Create(resources::ConfigMaps(), ns_, ConfigMap("patch", {{"a", "1"}})).ok());
  absl::StatusOr<json> merged = client_->MergePatch(resources::ConfigMaps(), ns_, "patch",
                                                    {{"data", {{"b", "2"}, {"a", nullptr}}}});
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ((*merged)["data"], json({{"b", "2"}}));

  absl::StatusOr<json> patched =
      client_->JsonPatch(resources::ConfigMaps(), ns_, "patch",
                         json::array({{{"op", "test"}, {"path", "/data/b"}, {"value", "2"}},
                                      {{"op", "replace"}, {"path", "/data/b"}, {"value", "3"}},
                                      {{"op", "add"}, {"path", "/data/c"}, {"value", "4"}}}));
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ((*patched)["data"], json({{"b", "3"}, {"c", "4"}}));

  // A failing "test" operation rejects the whole patch.
  absl::StatusOr<json> failed =
      client_->JsonPatch(resources::ConfigMaps(), ns_, "patch",
                         json::array({{{"op", "test"}, {"path", "/data/b"}, {"value", "nope"}}}));
  EXPECT_FALSE(failed.ok());
  EXPECT_FALSE(kube::IsNotFound(failed.status())) << failed.status();

  absl::StatusOr<json> absent =
      client_->MergePatch(resources::ConfigMaps(), ns_, "no-such-cm", {{"data", {{"a", "1"}}}});
  EXPECT_TRUE(kube::IsNotFound(absent.status())) << absent.status();
}

TEST_F(KubeClientE2E, ServerSideApplyWithFieldManagers) {
  json applied = ConfigMap("ssa", {{"owned-by-a", "1"}, {"shared", "a"}});
  applied["metadata"].erase("labels");
  absl::StatusOr<json> a = client_->Apply(resources::ConfigMaps(), ns_, applied, "manager-a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)["data"]["shared"], "a");

  json by_b = ConfigMap("ssa", {{"shared", "b"}});
  by_b["metadata"].erase("labels");
  absl::StatusOr<json> conflict = client_->Apply(resources::ConfigMaps(), ns_, by_b, "manager-b");
  EXPECT_TRUE(kube::IsConflict(conflict.status())) << conflict.status();
  EXPECT_THAT(conflict.status().message(), HasSubstr("manager-a"));

  absl::StatusOr<json> forced =
      client_->Apply(resources::ConfigMaps(), ns_, by_b, "manager-b", /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ((*forced)["data"]["shared"], "b");
  EXPECT_EQ((*forced)["data"]["owned-by-a"], "1");
  std::vector<std::string> managers;
  for (const json& mf : (*forced)["metadata"]["managedFields"]) managers.push_back(mf["manager"]);
  EXPECT_THAT(managers, Contains("manager-a"));
  EXPECT_THAT(managers, Contains("manager-b"));

  // Apply also creates.
  json fresh = ConfigMap("ssa-new", {{"k", "v"}});
  fresh["metadata"].erase("labels");
  EXPECT_TRUE(client_->Apply(resources::ConfigMaps(), ns_, fresh, "manager-a").ok());
}

// A throwaway CRD with the status subresource.
class CrdE2E : public KubeClientE2E {
 protected:
  static constexpr char kGroup[] = "e2e.kube.weir.dev";
  static ResourceRef Widgets() { return {kGroup, "v1", "widgets", true, "Widget"}; }

  static absl::Status EnsureCrd() {
    json crd = {
        {"apiVersion", "apiextensions.k8s.io/v1"},
        {"kind", "CustomResourceDefinition"},
        {"metadata", {{"name", absl::StrCat("widgets.", kGroup)}}},
        {"spec",
         {{"group", kGroup},
          {"scope", "Namespaced"},
          {"names", {{"plural", "widgets"}, {"singular", "widget"}, {"kind", "Widget"}}},
          {"versions",
           {{{"name", "v1"},
             {"served", true},
             {"storage", true},
             {"subresources", {{"status", json::object()}}},
             {"schema",
              {{"openAPIV3Schema",
                {{"type", "object"},
                 {"properties",
                  {{"spec", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}},
                   {"status",
                    {{"type", "object"},
                     {"x-kubernetes-preserve-unknown-fields", true}}}}}}}}}}}}}}};
    absl::StatusOr<json> created =
        client_->Apply(resources::CustomResourceDefinitions(), "", crd, "weir-e2e", true);
    if (!created.ok()) return created.status();
    // Usable once Established, and once its endpoint is served.
    // The list fails (NotFound) until then: here an error means "not yet".
    bool ready = Eventually(
        [] {
          absl::StatusOr<json> list = client_->List(Widgets(), ns_);
          return list.ok();
        },
        absl::Seconds(30));
    return ready ? absl::OkStatus() : absl::DeadlineExceededError("CRD never became ready");
  }
};

TEST_F(CrdE2E, StatusIsWrittenOnlyThroughTheSubresource) {
  ASSERT_TRUE(EnsureCrd().ok());
  json widget = {{"apiVersion", absl::StrCat(kGroup, "/v1")},
                 {"kind", "Widget"},
                 {"metadata", {{"name", "w1"}}},
                 {"spec", {{"size", 1}}}};
  absl::StatusOr<json> created = client_->Create(Widgets(), ns_, widget);
  ASSERT_TRUE(created.ok()) << created.status();

  // A status change through the main resource is ignored.
  json with_status = *created;
  with_status["status"] = {{"phase", "Ignored"}};
  absl::StatusOr<json> updated = client_->Update(Widgets(), ns_, with_status);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_FALSE(updated->contains("status") && (*updated)["status"].contains("phase"));

  // UpdateStatus writes status and ignores spec.
  json status_write = *updated;
  status_write["status"] = {{"phase", "Running"}};
  status_write["spec"]["size"] = 99;
  absl::StatusOr<json> st = client_->UpdateStatus(Widgets(), ns_, status_write);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ((*st)["status"]["phase"], "Running");
  EXPECT_EQ((*st)["spec"]["size"], 1);

  // A stale UpdateStatus conflicts; PatchStatus needs no resourceVersion.
  EXPECT_TRUE(kube::IsConflict(client_->UpdateStatus(Widgets(), ns_, status_write).status()));
  absl::StatusOr<json> patched = client_->PatchStatus(Widgets(), ns_, "w1", PatchType::kMerge,
                                                      {{"status", {{"phase", "Done"}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ((*patched)["status"]["phase"], "Done");
  absl::StatusOr<json> got = client_->Get(Widgets(), ns_, "w1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["status"]["phase"], "Done");
}

TEST_F(KubeClientE2E, DeleteWithPreconditions) {
  absl::StatusOr<json> cm = client_->Create(resources::ConfigMaps(), ns_, ConfigMap("precond"));
  ASSERT_TRUE(cm.ok()) << cm.status();
  DeleteOptions wrong_uid;
  wrong_uid.uid = "00000000-0000-0000-0000-000000000000";
  absl::StatusOr<json> r = client_->Delete(resources::ConfigMaps(), ns_, "precond", wrong_uid);
  EXPECT_TRUE(kube::IsConflict(r.status())) << r.status();

  DeleteOptions wrong_rv;
  wrong_rv.resource_version = "1";
  r = client_->Delete(resources::ConfigMaps(), ns_, "precond", wrong_rv);
  EXPECT_TRUE(kube::IsConflict(r.status())) << r.status();

  DeleteOptions right;
  right.uid = (*cm)["metadata"]["uid"].get<std::string>();
  right.resource_version = Rv(*cm);
  r = client_->Delete(resources::ConfigMaps(), ns_, "precond", right);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(kube::IsNotFound(client_->Get(resources::ConfigMaps(), ns_, "precond").status()));
  EXPECT_TRUE(kube::IsNotFound(client_->Delete(resources::ConfigMaps(), ns_, "precond").status()));
}

json OwnedConfigMap(const std::string& name, const json& owner) {
  json cm = ConfigMap(name);
  cm["metadata"]["ownerReferences"] = json::array({{{"apiVersion", "v1"},
                                                    {"kind", "ConfigMap"},
                                                    {"name", owner["metadata"]["name"]},
                                                    {"uid", owner["metadata"]["uid"]}}});
  return cm;
}

TEST_F(KubeClientE2E, DeletePropagationPolicies) {
  // Orphan: the dependent survives and loses its owner reference.
  absl::StatusOr<json> owner = client_->Create(resources::ConfigMaps(), ns_, ConfigMap("owner-o"));
  ASSERT_TRUE(owner.ok()) << owner.status();
  ASSERT_TRUE(
      client_->Create(resources::ConfigMaps(), ns_, OwnedConfigMap("child-o", *owner)).ok());
  DeleteOptions orphan;
  orphan.propagation_policy = PropagationPolicy::kOrphan;
  ASSERT_TRUE(client_->Delete(resources::ConfigMaps(), ns_, "owner-o", orphan).ok());
  EXPECT_TRUE(Eventually(
      [&]() -> absl::StatusOr<bool> {
        absl::StatusOr<json> child = client_->Get(resources::ConfigMaps(), ns_, "child-o");
        if (!child.ok()) return child.status();
        if ((*child)["metadata"].contains("ownerReferences")) return false;
        return Gone(*client_, ns_, "owner-o");
      },
      absl::Seconds(30)));

  // Foreground: the owner waits (finalizer) until the dependent is gone.
  owner = client_->Create(resources::ConfigMaps(), ns_, ConfigMap("owner-f"));
  ASSERT_TRUE(owner.ok()) << owner.status();
  ASSERT_TRUE(
      client_->Create(resources::ConfigMaps(), ns_, OwnedConfigMap("child-f", *owner)).ok());
  DeleteOptions foreground;
  foreground.propagation_policy = PropagationPolicy::kForeground;
  foreground.grace_period_seconds = 0;
  absl::StatusOr<json> deleting =
      client_->Delete(resources::ConfigMaps(), ns_, "owner-f", foreground);
  ASSERT_TRUE(deleting.ok()) << deleting.status();
  EXPECT_TRUE((*deleting)["metadata"].contains("deletionTimestamp"));
  EXPECT_THAT((*deleting)["metadata"]["finalizers"], Contains("foregroundDeletion"));
  EXPECT_TRUE(Eventually(
      [&]() -> absl::StatusOr<bool> {
        absl::StatusOr<bool> child_gone = Gone(*client_, ns_, "child-f");
        if (!child_gone.ok() || !*child_gone) return child_gone;
        return Gone(*client_, ns_, "owner-f");
      },
      absl::Seconds(30)));

  // Background: the owner goes at once, the dependent soon after.
  owner = client_->Create(resources::ConfigMaps(), ns_, ConfigMap("owner-b"));
  ASSERT_TRUE(owner.ok()) << owner.status();
  ASSERT_TRUE(
      client_->Create(resources::ConfigMaps(), ns_, OwnedConfigMap("child-b", *owner)).ok());
  DeleteOptions background;
  background.propagation_policy = PropagationPolicy::kBackground;
  ASSERT_TRUE(client_->Delete(resources::ConfigMaps(), ns_, "owner-b", background).ok());
  EXPECT_TRUE(kube::IsNotFound(client_->Get(resources::ConfigMaps(), ns_, "owner-b").status()));
  EXPECT_TRUE(Eventually([&] { return Gone(*client_, ns_, "child-b"); }, absl::Seconds(30)));
}

TEST_F(KubeClientE2E, WatchSeesAddModifyDeleteAndBookmarks) {
  ListOptions lo;
  lo.label_selector = "e2e=watch";
  absl::StatusOr<json> list = client_->List(resources::ConfigMaps(), ns_, lo);
  ASSERT_TRUE(list.ok()) << list.status();
  WatchOptions wo;
  wo.resource_version = Rv(*list);
  wo.allow_watch_bookmarks = true;
  wo.timeout_seconds = 6;
  wo.label_selector = "e2e=watch";
  absl::StatusOr<std::unique_ptr<WatchStream>> watch =
      client_->Watch(resources::ConfigMaps(), ns_, wo);
  ASSERT_TRUE(watch.ok()) << watch.status();

  std::thread writer([] {
    absl::StatusOr<json> cm = client_->Create(
        resources::ConfigMaps(), ns_, ConfigMap("watched", {{"v", "1"}}, {{"e2e", "watch"}}));
    ASSERT_TRUE(cm.ok()) << cm.status();
    ASSERT_TRUE(
        client_->MergePatch(resources::ConfigMaps(), ns_, "watched", {{"data", {{"v", "2"}}}})
            .ok());
    ASSERT_TRUE(client_->Delete(resources::ConfigMaps(), ns_, "watched").ok());
  });

  std::vector<std::string> seen;
  int bookmarks = 0;
  std::string last_rv = wo.resource_version;
  absl::Status end = (*watch)->ForEach([&](const WatchEvent& e) {
    if (e.type == EventType::kBookmark) {
      ++bookmarks;
      EXPECT_FALSE(e.object["metadata"]["resourceVersion"].get<std::string>().empty());
      return true;
    }
    EXPECT_NE(e.type, EventType::kError) << e.error;
    seen.push_back(absl::StrCat(EventTypeName(e.type), " ",
                                e.object["metadata"]["name"].get<std::string>(), " ",
                                e.object["data"].value("v", "")));
    last_rv = Rv(e.object);
    return true;
  });
  writer.join();
  // The server ends the watch after timeoutSeconds; a bookmark comes shortly before.
  EXPECT_TRUE(end.ok()) << end;
  EXPECT_THAT(seen,
              ::testing::ElementsAre("ADDED watched 1", "MODIFIED watched 2", "DELETED watched 2"));
  EXPECT_GE(bookmarks, 1);
}

TEST_F(KubeClientE2E, WatchCancelFromAnotherThread) {
  absl::StatusOr<std::unique_ptr<WatchStream>> watch =
      client_->Watch(resources::ConfigMaps(), ns_, WatchOptions());
  ASSERT_TRUE(watch.ok()) << watch.status();
  const absl::Time start = absl::Now();
  std::thread canceler([&] {
    absl::SleepFor(absl::Milliseconds(500));
    (*watch)->Cancel();
  });
  WatchEvent e;
  // Without a resourceVersion the watch starts with synthetic ADDED events for
  // the objects that exist; drain them, then block until Cancel().
  while ((*watch)->Next(&e)) {
  }
  canceler.join();
  EXPECT_TRUE(kube::IsCanceled((*watch)->status())) << (*watch)->status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

// A custom resource's watch cache starts at the resourceVersion current when
// the CRD was established, so a watch from "1" is always too old for it.
TEST_F(CrdE2E, TooOldResourceVersionIsGone) {
  ASSERT_TRUE(EnsureCrd().ok());
  WatchOptions wo;
  wo.resource_version = "1";
  wo.timeout_seconds = 10;
  absl::StatusOr<std::unique_ptr<WatchStream>> watch = client_->Watch(Widgets(), ns_, wo);
  absl::Status gone;
  if (!watch.ok()) {
    gone = watch.status();  // some servers refuse the watch outright
  } else {
    WatchEvent e;
    ASSERT_TRUE((*watch)->Next(&e)) << (*watch)->status();
    ASSERT_EQ(e.type, EventType::kError) << e.object.dump();
    gone = e.error;
  }
  EXPECT_TRUE(kube::IsGone(gone)) << gone;
  EXPECT_TRUE(kube::IsExpired(gone)) << gone;
  EXPECT_EQ(GetHttpCode(gone), 410);
  EXPECT_EQ(gone.code(), absl::StatusCode::kOutOfRange);
}

TEST_F(KubeClientE2E, TlsVerification) {
  ASSERT_FALSE(config_.ca_data.empty()) << "the local control plane's kubeconfig carries its CA";
  RestConfig no_ca = config_;
  no_ca.ca_data.clear();
  absl::StatusOr<std::unique_ptr<HttpClient>> untrusting = HttpClient::New(no_ca);
  ASSERT_TRUE(untrusting.ok()) << untrusting.status();
  absl::Status s = (*untrusting)->Get(resources::Namespaces(), "", ns_).status();
  EXPECT_TRUE(kube::IsConnectionFailed(s)) << s;

  RestConfig insecure = no_ca;
  insecure.insecure_skip_tls_verify = true;
  absl::StatusOr<std::unique_ptr<HttpClient>> trusting = HttpClient::New(insecure);
  ASSERT_TRUE(trusting.ok()) << trusting.status();
  absl::StatusOr<json> got = (*trusting)->Get(resources::Namespaces(), "", ns_);
  EXPECT_TRUE(got.ok()) << got.status();
}

TEST_F(KubeClientE2E, BearerTokensForbiddenAndUnauthorized) {
  ASSERT_TRUE(client_
                  ->Create(resources::ServiceAccounts(), ns_,
                           {{"apiVersion", "v1"},
                            {"kind", "ServiceAccount"},
                            {"metadata", {{"name", "limited"}}}})
                  .ok());
  CreateOptions token_request;
  token_request.subresource_of = "limited";
  token_request.subresource = "token";
  absl::StatusOr<json> issued = client_->Create(resources::ServiceAccounts(), ns_,
                                                {{"apiVersion", "authentication.k8s.io/v1"},
                                                 {"kind", "TokenRequest"},
                                                 {"spec", {{"expirationSeconds", 600}}}},
                                                token_request);
  ASSERT_TRUE(issued.ok()) << issued.status();
  const std::string token = (*issued)["status"]["token"].get<std::string>();
  ASSERT_FALSE(token.empty());

  // The service account authenticates but has no RBAC grants.
  RestConfig as_sa = config_;
  as_sa.client_cert_data.clear();
  as_sa.client_key_data.clear();
  as_sa.bearer_token = token;
  absl::StatusOr<std::unique_ptr<HttpClient>> sa_client = HttpClient::New(as_sa);
  ASSERT_TRUE(sa_client.ok()) << sa_client.status();
  absl::Status forbidden = (*sa_client)->List(resources::ConfigMaps(), ns_).status();
  EXPECT_TRUE(kube::IsForbidden(forbidden)) << forbidden;
  EXPECT_EQ(forbidden.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(forbidden.message(), HasSubstr("limited"));

  // The same token read from a file.
  std::string path = absl::StrCat(::testing::TempDir(), "/weir-e2e-token-", ns_);
  {
    std::ofstream out(path);
    out << token << "\n";
  }
  RestConfig from_file = as_sa;
  from_file.bearer_token.clear();
  from_file.token_file = path;
  absl::StatusOr<std::unique_ptr<HttpClient>> file_client = HttpClient::New(from_file);
  ASSERT_TRUE(file_client.ok()) << file_client.status();
  EXPECT_TRUE(kube::IsForbidden((*file_client)->List(resources::ConfigMaps(), ns_).status()));
  std::remove(path.c_str());

  RestConfig bad = as_sa;
  bad.bearer_token = "not-a-token";
  absl::StatusOr<std::unique_ptr<HttpClient>> bad_client = HttpClient::New(bad);
  ASSERT_TRUE(bad_client.ok()) << bad_client.status();
  absl::Status unauthorized = (*bad_client)->List(resources::ConfigMaps(), ns_).status();
  EXPECT_TRUE(kube::IsUnauthorized(unauthorized)) << unauthorized;
  EXPECT_EQ(unauthorized.code(), absl::StatusCode::kUnauthenticated);
}

TEST(KubeClientE2EConnection, UnreachableServerIsConnectionFailed) {
  RestConfig config;
  config.server = "https://127.0.0.1:1";
  config.insecure_skip_tls_verify = true;
  absl::StatusOr<std::unique_ptr<HttpClient>> client = HttpClient::New(config);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::Status s = (*client)->Get(resources::ConfigMaps(), "default", "x").status();
  EXPECT_TRUE(kube::IsConnectionFailed(s)) << s;
}

}  // namespace
}  // namespace weir::kube
