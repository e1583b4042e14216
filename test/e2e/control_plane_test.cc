// Proves the local control plane is what docs/design.md §6 promises: the pinned,
// version-stamped upstream release, TLS and RBAC on, service-account tokens
// issued, and the controller-manager's job controller and garbage collector
// running.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/e2e/support/eventually.h"
#include "test/e2e/support/kubectl.h"

namespace weir::e2e {
namespace {

using nlohmann::json;

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Kubectl> kubectl = Kubectl::FromEnv();
    ASSERT_TRUE(kubectl.ok()) << kubectl.status();
    kubectl_.emplace(*std::move(kubectl));
  }
  std::optional<Kubectl> kubectl_;
};

TEST_F(ControlPlaneTest, ServerIsThePinnedVersion) {
  const char* pinned = std::getenv("WEIR_KUBERNETES_VERSION");
  ASSERT_NE(pinned, nullptr) << "WEIR_KUBERNETES_VERSION must be set (hack/cluster.sh env)";
  absl::StatusOr<std::string> raw = kubectl_->Run({"get", "--raw", "/version"});
  ASSERT_TRUE(raw.ok()) << raw.status();
  json version = json::parse(*raw);
  EXPECT_EQ(version["gitVersion"], pinned);
  EXPECT_EQ(version["major"], "1");
}

TEST_F(ControlPlaneTest, ServesTlsOnLoopback) {
  absl::StatusOr<std::string> server =
      kubectl_->Run({"config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(absl::StartsWith(*server, "https://127.0.0.1:")) << *server;
}

TEST_F(ControlPlaneTest, IssuesServiceAccountTokensAndEnforcesRbac) {
  TestNamespace ns(*kubectl_, "rbac");
  absl::StatusOr<std::string> token =
      kubectl_->Run({"create", "token", "default", "-n", ns.name(), "--duration=10m"});
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(std::count(token->begin(), token->end(), '.'), 2) << "not a JWT: " << *token;

  // A kubeconfig holding only that token authenticates as the service
  // account, to which RBAC grants nothing.
  absl::StatusOr<json> config = kubectl_->GetJson({"config", "view", "--minify", "--raw"});
  ASSERT_TRUE(config.ok()) << config.status();
  (*config)["users"][0]["user"] = {{"token", std::string(absl::StripAsciiWhitespace(*token))}};
  const std::string path = absl::StrCat(::testing::TempDir(), "/sa-", ns.name(), ".kubeconfig");
  std::ofstream(path) << config->dump();
  // A later --kubeconfig flag overrides the admin one Run() passes first.
  const std::string as_sa = "--kubeconfig=" + path;
  const std::string sa = absl::StrCat("system:serviceaccount:", ns.name(), ":default");
  absl::StatusOr<std::string> whoami =
      kubectl_->Run({as_sa, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"});
  ASSERT_TRUE(whoami.ok()) << whoami.status();
  EXPECT_EQ(*whoami, sa);
  absl::StatusOr<std::string> secrets = kubectl_->Run({as_sa, "get", "secrets", "-n", ns.name()});
  ASSERT_FALSE(secrets.ok());
  EXPECT_THAT(std::string(secrets.status().message()), ::testing::HasSubstr("Forbidden"));
  std::remove(path.c_str());
}

TEST_F(ControlPlaneTest, GarbageCollectorDeletesOwnedObjects) {
  TestNamespace ns(*kubectl_, "gc");
  ASSERT_TRUE(kubectl_->Run({"create", "configmap", "owner", "-n", ns.name()}).ok());
  absl::StatusOr<std::string> uid = kubectl_->Run(
      {"get", "configmap", "owner", "-n", ns.name(), "-o", "jsonpath={.metadata.uid}"});
  ASSERT_TRUE(uid.ok()) << uid.status();
  json child = {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       {{"name", "child"},
        {"namespace", ns.name()},
        {"ownerReferences",
         json::array(
             {{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "owner"}, {"uid", *uid}}})}}}};
  ASSERT_TRUE(kubectl_->Apply(child).ok());
  ASSERT_TRUE(kubectl_->Run({"delete", "configmap", "owner", "-n", ns.name()}).ok());
  EXPECT_TRUE(Eventually(
      [&]() -> absl::StatusOr<bool> {
        absl::StatusOr<std::optional<json>> child = kubectl_->Find("configmap", "child", ns.name());
        if (!child.ok()) return child.status();
        return !child->has_value();
      },
      absl::Seconds(30)))
      << "the garbage collector never deleted the owned ConfigMap";
}

}  // namespace
}  // namespace weir::e2e
