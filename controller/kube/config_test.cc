#include "kube/config.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::kube {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kCaPem[] = "-----BEGIN CERTIFICATE-----\nQ0EK\n-----END CERTIFICATE-----\n";
constexpr char kCertPem[] = "-----BEGIN CERTIFICATE-----\nQ0VSVAo=\n-----END CERTIFICATE-----\n";
constexpr char kKeyPem[] = "-----BEGIN PRIVATE KEY-----\nS0VZCg==\n-----END PRIVATE KEY-----\n";

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ =
        std::filesystem::path(::testing::TempDir()) /
        absl::StrCat("weir_config_", info->test_suite_name(), "_", info->name(), "_", ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& rel, const std::string& contents) {
    std::filesystem::path p = dir_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << contents;
    return p.string();
  }

  absl::StatusOr<RestConfig> Parse(const std::string& yaml, const std::string& context = "") {
    return ParseKubeconfig(yaml, "/cfg/kubeconfig", dir_.string(), context);
  }

  std::filesystem::path dir_;
};

std::string B64(absl::string_view s) { return absl::Base64Escape(s); }

std::string InlineConfig() {
  return absl::StrCat(R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: )",
                      B64(kCaPem), R"(
- name: other
  cluster:
    server: http://10.0.0.1:8080
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    client-certificate-data: )",
                      B64(kCertPem), R"(
    client-key-data: )",
                      B64(kKeyPem), R"(
- name: robot
  user:
    token: " abc.def "
contexts:
- name: dev
  context:
    cluster: local
    user: admin
    namespace: team-a
- name: ops
  context:
    cluster: other
    user: robot
)");
}

TEST_F(ConfigTest, CurrentContextWithInlineData) {
  absl::StatusOr<RestConfig> c = Parse(InlineConfig());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");
  EXPECT_EQ(c->ca_data, kCaPem);
  EXPECT_EQ(c->client_cert_data, kCertPem);
  EXPECT_EQ(c->client_key_data, kKeyPem);
  EXPECT_EQ(c->default_namespace, "team-a");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_TRUE(c->bearer_token.empty());
  EXPECT_THAT(c->source, HasSubstr("context dev"));
}

TEST_F(ConfigTest, NamedContext) {
  absl::StatusOr<RestConfig> c = Parse(InlineConfig(), "ops");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "http://10.0.0.1:8080");
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->bearer_token, "abc.def");
  EXPECT_TRUE(c->ca_data.empty());
  EXPECT_TRUE(c->client_cert_data.empty());
  EXPECT_EQ(c->default_namespace, "default");
}

TEST_F(ConfigTest, RelativePathsResolveAgainstKubeconfigDirectory) {
  Write("pki/ca.crt", kCaPem);
  Write("pki/admin.crt", kCertPem);
  Write("pki/admin.key", kKeyPem);
  Write("token", "tok-from-file\n");
  std::string path = Write("conf/kubeconfig", R"(
current-context: c
clusters:
- name: k
  cluster: {server: "https://k:6443", certificate-authority: ../pki/ca.crt}
users:
- name: u
  user:
    client-certificate: ../pki/admin.crt
    client-key: ../pki/admin.key
    tokenFile: ../token
contexts:
- name: c
  context: {cluster: k, user: u}
)");
  absl::StatusOr<RestConfig> c = LoadKubeconfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ca_data, kCaPem);
  EXPECT_EQ(c->client_cert_data, kCertPem);
  EXPECT_EQ(c->client_key_data, kKeyPem);
  EXPECT_EQ(c->token_file, (dir_ / "token").string());
}

TEST_F(ConfigTest, AbsolutePathsAreKept) {
  std::string ca = Write("abs/ca.crt", kCaPem);
  absl::StatusOr<RestConfig> c = Parse(absl::StrCat(R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://k", certificate-authority: )",
                                                    ca, R"(}}]
contexts: [{name: c, context: {cluster: k}}]
)"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ca_data, kCaPem);
}

TEST_F(ConfigTest, DataWinsOverPath) {
  absl::StatusOr<RestConfig> c = Parse(absl::StrCat(R"(
current-context: c
clusters:
- name: k
  cluster:
    server: https://k
    certificate-authority: /does/not/exist
    certificate-authority-data: )",
                                                    B64(kCaPem), R"(
contexts: [{name: c, context: {cluster: k}}]
)"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ca_data, kCaPem);
}

// Each bad kubeconfig must give InvalidArgument naming the file and field.
struct BadCase {
  std::string name;
  std::string yaml;
  std::string context;
  std::vector<std::string> want;  // substrings of the message
};

class BadKubeconfigTest : public ConfigTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(BadKubeconfigTest, GivesInvalidArgumentNamingFileAndField) {
  const BadCase& bc = GetParam();
  absl::StatusOr<RestConfig> c = Parse(bc.yaml, bc.context);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << c.status();
  EXPECT_THAT(c.status().message(), HasSubstr("/cfg/kubeconfig"));
  for (const std::string& w : bc.want) EXPECT_THAT(c.status().message(), HasSubstr(w));
}

const char kTail[] = R"(
contexts: [{name: c, context: {cluster: k, user: u}}]
current-context: c
)";
const char kCluster[] = R"(
clusters: [{name: k, cluster: {server: "https://k"}}]
)";

std::string WithUser(const std::string& user_body) {
  return absl::StrCat(kCluster, "users:\n- name: u\n  user:\n", user_body, kTail);
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadKubeconfigTest,
    ::testing::Values(
        BadCase{"NotYaml", "clusters: [unclosed", "", {"not valid YAML"}},
        BadCase{"TopLevelList", "- a\n- b\n", "", {"top level must be a map"}},
        BadCase{"WrongKind", "kind: Pod\n", "", {"kind", "Pod"}},
        BadCase{"ClustersNotList", "clusters: {a: b}\n", "", {"clusters", "must be a list"}},
        BadCase{"ClusterWithoutName",
                "clusters: [{cluster: {server: x}}]\n",
                "",
                {"clusters[0]", "name", "missing"}},
        BadCase{"ClusterBodyMissing",
                "clusters: [{name: k}]\n",
                "",
                {"clusters[0] \"k\"", "cluster", "missing"}},
        BadCase{"NoCurrentContext", kCluster, "", {"current-context", "not set"}},
        BadCase{"CurrentContextUnknown",
                absl::StrCat(kCluster, "current-context: nope\n"),
                "",
                {"current-context", "context \"nope\" not found"}},
        BadCase{"NamedContextUnknown",
                absl::StrCat(kCluster, kTail),
                "nope",
                {"context", "\"nope\" not found"}},
        BadCase{"ClusterUnknown",
                "contexts: [{name: c, context: {cluster: zz}}]\ncurrent-context: c\n",
                "",
                {"contexts[0] \"c\"", "cluster", "\"zz\" not found"}},
        BadCase{"ContextWithoutCluster",
                "contexts: [{name: c, context: {user: u}}]\ncurrent-context: c\n",
                "",
                {"contexts[0] \"c\"", "cluster: missing"}},
        BadCase{"UserUnknown",
                absl::StrCat(kCluster, kTail),
                "",
                {"contexts[0] \"c\"", "user", "\"u\" not found"}},
        BadCase{"ServerMissing",
                absl::StrCat("clusters: [{name: k, cluster: {insecure-skip-tls-verify: true}}]\n",
                             "contexts: [{name: c, context: {cluster: k}}]\ncurrent-context: c\n"),
                "",
                {"clusters[0] \"k\"", "server: missing"}},
        BadCase{"ServerWithoutScheme",
                absl::StrCat("clusters: [{name: k, cluster: {server: \"k:6443\"}}]\n",
                             "contexts: [{name: c, context: {cluster: k}}]\ncurrent-context: c\n"),
                "",
                {"server", "must start with https://"}},
        BadCase{"InsecureNotBool",
                absl::StrCat("clusters: [{name: k, cluster: {server: \"https://k\", "
                             "insecure-skip-tls-verify: maybe}}]\n",
                             "contexts: [{name: c, context: {cluster: k}}]\ncurrent-context: c\n"),
                "",
                {"insecure-skip-tls-verify", "true or false"}},
        BadCase{"CaDataNotBase64",
                absl::StrCat("clusters: [{name: k, cluster: {server: \"https://k\", "
                             "certificate-authority-data: \"!!!\"}}]\n",
                             "contexts: [{name: c, context: {cluster: k}}]\ncurrent-context: c\n"),
                "",
                {"certificate-authority-data", "not valid base64"}},
        BadCase{"CaDataNotPem",
                absl::StrCat("clusters: [{name: k, cluster: {server: \"https://k\", "
                             "certificate-authority-data: ",
                             B64("hello"), "}}]\n",
                             "contexts: [{name: c, context: {cluster: k}}]\ncurrent-context: c\n"),
                "",
                {"certificate-authority-data", "PEM"}},
        BadCase{"CaFileMissing",
                absl::StrCat("clusters: [{name: k, cluster: {server: \"https://k\", "
                             "certificate-authority: /nonexistent/ca.crt}}]\n",
                             "contexts: [{name: c, context: {cluster: k}}]\ncurrent-context: c\n"),
                "",
                {"certificate-authority", "/nonexistent/ca.crt", "no such file"}},
        BadCase{"TlsServerName",
                absl::StrCat("clusters: [{name: k, cluster: {server: \"https://k\", "
                             "tls-server-name: x}}]\n",
                             "contexts: [{name: c, context: {cluster: k}}]\ncurrent-context: c\n"),
                "",
                {"tls-server-name", "not supported"}},
        BadCase{"ExecPlugin",
                WithUser("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                         "      command: aws\n"),
                "",
                {"users[0] \"u\"", "exec", "\"aws\"", "not supported"}},
        BadCase{"AuthProvider",
                WithUser("    auth-provider:\n      name: gcp\n"),
                "",
                {"auth-provider", "\"gcp\"", "not supported"}},
        BadCase{"BasicAuth",
                WithUser("    username: a\n    password: b\n"),
                "",
                {"basic authentication"}},
        BadCase{"Impersonation",
                WithUser("    token: t\n    as: someone\n"),
                "",
                {"as", "impersonation"}},
        BadCase{"UnknownAuthField",
                WithUser("    magic-login: yes\n"),
                "",
                {"magic-login", "unknown authentication field"}},
        BadCase{"CertWithoutKey",
                WithUser(absl::StrCat("    client-certificate-data: ", B64(kCertPem), "\n")),
                "",
                {"client-key", "missing"}},
        BadCase{"KeyWithoutCert",
                WithUser(absl::StrCat("    client-key-data: ", B64(kKeyPem), "\n")),
                "",
                {"client-certificate", "missing"}},
        BadCase{"KeyNotPem",
                WithUser("    client-certificate-data: eA==\n"),
                "",
                {"client-certificate-data", "PEM"}},
        BadCase{"TokenFileMissing",
                WithUser("    tokenFile: /nonexistent/token\n"),
                "",
                {"tokenFile", "/nonexistent/token"}},
        BadCase{
            "TokenNotString", WithUser("    token: [a, b]\n"), "", {"token", "must be a string"}}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

TEST_F(ConfigTest, EmptyFileHasNoContext) {
  absl::StatusOr<RestConfig> c = Parse("");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("current-context"));
}

TEST_F(ConfigTest, MissingFileIsNotFound) {
  absl::StatusOr<RestConfig> c = LoadKubeconfigFile((dir_ / "nope").string());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("nope"));
}

TEST_F(ConfigTest, MergeFirstDefinitionWins) {
  std::string a = Write("a", R"(
current-context: first
clusters: [{name: k, cluster: {server: "https://from-a"}}]
contexts: [{name: first, context: {cluster: k}}]
)");
  std::string b = Write("b", R"(
current-context: second
clusters:
- {name: k, cluster: {server: "https://from-b"}}
- {name: k2, cluster: {server: "https://k2-from-b"}}
contexts:
- {name: second, context: {cluster: k2, user: u}}
users: [{name: u, user: {token: bt}}]
)");
  absl::StatusOr<RestConfig> c = LoadKubeconfigFiles({a, (dir_ / "missing").string(), b});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://from-a");
  absl::StatusOr<RestConfig> second = LoadKubeconfigFiles({a, b}, "second");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->server, "https://k2-from-b");
  EXPECT_EQ(second->bearer_token, "bt");
}

TEST_F(ConfigTest, MergeWithNoExistingFileIsNotFound) {
  absl::StatusOr<RestConfig> c = LoadKubeconfigFiles({(dir_ / "x").string()});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ConfigTest, MergeErrorNamesTheBadFile) {
  std::string a = Write("good", "clusters: []\n");
  std::string b = Write("bad", "clusters: {}\n");
  absl::StatusOr<RestConfig> c = LoadKubeconfigFiles({a, b});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr(b));
}

// --- in-cluster ---

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class InClusterTest : public ConfigTest {
 protected:
  InClusterPaths Paths() {
    return {(dir_ / "sa/token").string(), (dir_ / "sa/ca.crt").string(),
            (dir_ / "sa/namespace").string()};
  }
  void WriteServiceAccount() {
    Write("sa/token", "sa-token\n");
    Write("sa/ca.crt", kCaPem);
    Write("sa/namespace", "weir-system\n");
  }
};

TEST_F(InClusterTest, Good) {
  WriteServiceAccount();
  EnvLookup env =
      FakeEnv({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}});
  ASSERT_TRUE(InClusterEnvPresent(env));
  absl::StatusOr<RestConfig> c = LoadInClusterConfig(env, Paths());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(c->ca_data, kCaPem);
  EXPECT_EQ(c->token_file, Paths().token_file);
  EXPECT_TRUE(c->bearer_token.empty());
  EXPECT_EQ(c->default_namespace, "weir-system");
}

TEST_F(InClusterTest, Ipv6HostIsBracketed) {
  WriteServiceAccount();
  absl::StatusOr<RestConfig> c = LoadInClusterConfig(
      FakeEnv({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
      Paths());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://[fd00::1]:443");
}

TEST_F(InClusterTest, NamespaceFileIsOptional) {
  Write("sa/token", "t");
  Write("sa/ca.crt", kCaPem);
  absl::StatusOr<RestConfig> c = LoadInClusterConfig(
      FakeEnv({{"KUBERNETES_SERVICE_HOST", "h"}, {"KUBERNETES_SERVICE_PORT", "1"}}), Paths());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->default_namespace, "default");
}

TEST_F(InClusterTest, Errors) {
  EnvLookup env = FakeEnv({{"KUBERNETES_SERVICE_HOST", "h"}, {"KUBERNETES_SERVICE_PORT", "1"}});
  EXPECT_EQ(
      LoadInClusterConfig(FakeEnv({{"KUBERNETES_SERVICE_HOST", "h"}}), Paths()).status().code(),
      absl::StatusCode::kFailedPrecondition);
  absl::Status no_token = LoadInClusterConfig(env, Paths()).status();
  EXPECT_EQ(no_token.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_token.message(), AllOf(HasSubstr("token"), HasSubstr(Paths().token_file)));
  Write("sa/token", "  \n");
  EXPECT_THAT(LoadInClusterConfig(env, Paths()).status().message(), HasSubstr("empty"));
  Write("sa/token", "t");
  absl::Status no_ca = LoadInClusterConfig(env, Paths()).status();
  EXPECT_THAT(no_ca.message(), HasSubstr(Paths().ca_file));
  Write("sa/ca.crt", "garbage");
  EXPECT_THAT(LoadInClusterConfig(env, Paths()).status().message(), HasSubstr("PEM"));
}

// --- lookup order ---

class LoadConfigTest : public InClusterTest {
 protected:
  std::string Kubeconfig(const std::string& rel, const std::string& server) {
    return Write(
        rel, absl::StrCat("current-context: c\nclusters: [{name: k, cluster: {server: \"", server,
                          "\"}}]\ncontexts: [{name: c, context: {cluster: k}}]\n"));
  }
};

TEST_F(LoadConfigTest, ExplicitKubeconfigWinsOverEverything) {
  WriteServiceAccount();
  std::string explicit_path = Kubeconfig("explicit", "https://explicit");
  std::string env_path = Kubeconfig("envcfg", "https://env");
  LoadOptions o;
  o.kubeconfig = explicit_path;
  o.env = FakeEnv({{"KUBERNETES_SERVICE_HOST", "h"},
                   {"KUBERNETES_SERVICE_PORT", "1"},
                   {"KUBECONFIG", env_path}});
  o.in_cluster = Paths();
  absl::StatusOr<RestConfig> c = LoadConfig(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://explicit");
}

TEST_F(LoadConfigTest, InClusterBeforeKubeconfigEnv) {
  WriteServiceAccount();
  LoadOptions o;
  o.env = FakeEnv({{"KUBERNETES_SERVICE_HOST", "h"},
                   {"KUBERNETES_SERVICE_PORT", "1"},
                   {"KUBECONFIG", Kubeconfig("envcfg", "https://env")}});
  o.in_cluster = Paths();
  absl::StatusOr<RestConfig> c = LoadConfig(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://h:1");
}

TEST_F(LoadConfigTest, ContextSkipsInCluster) {
  WriteServiceAccount();
  LoadOptions o;
  o.context = "c";
  o.env = FakeEnv({{"KUBERNETES_SERVICE_HOST", "h"},
                   {"KUBERNETES_SERVICE_PORT", "1"},
                   {"KUBECONFIG", Kubeconfig("envcfg", "https://env")}});
  o.in_cluster = Paths();
  absl::StatusOr<RestConfig> c = LoadConfig(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://env");
}

TEST_F(LoadConfigTest, KubeconfigEnvListThenHome) {
  std::string second = Kubeconfig("second", "https://second");
  LoadOptions o;
  o.env = FakeEnv({{"KUBECONFIG", absl::StrCat((dir_ / "missing").string(), ":", second)},
                   {"HOME", (dir_ / "home").string()}});
  absl::StatusOr<RestConfig> c = LoadConfig(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://second");

  Kubeconfig("home/.kube/config", "https://home");
  o.env = FakeEnv({{"HOME", (dir_ / "home").string()}});
  c = LoadConfig(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://home");
}

TEST_F(LoadConfigTest, NothingFound) {
  LoadOptions o;
  o.env = FakeEnv({{"HOME", (dir_ / "empty-home").string()}});
  absl::StatusOr<RestConfig> c = LoadConfig(o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(c.status().message(), HasSubstr("--kubeconfig"));
}

TEST_F(LoadConfigTest, BadHomeKubeconfigIsReported) {
  Write("home/.kube/config", "kind: Pod\n");
  LoadOptions o;
  o.env = FakeEnv({{"HOME", (dir_ / "home").string()}});
  absl::StatusOr<RestConfig> c = LoadConfig(o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr(".kube/config"));
}

// --- tokens ---

TEST_F(ConfigTest, StaticToken) {
  FakeClock clock;
  TokenSource ts("static", "", clock);
  EXPECT_FALSE(ts.from_file());
  EXPECT_EQ(ts.Token().value(), "static");
}

TEST_F(ConfigTest, TokenFileIsReReadAfterInterval) {
  FakeClock clock;
  std::string path = Write("token", "one\n");
  TokenSource ts("ignored", path, clock, absl::Minutes(1));
  EXPECT_TRUE(ts.from_file());
  EXPECT_EQ(ts.Token().value(), "one");
  Write("token", "two\n");
  clock.Advance(absl::Seconds(59));
  EXPECT_EQ(ts.Token().value(), "one");  // not re-read yet
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(ts.Token().value(), "two");
  Write("token", "three");
  ts.Invalidate();
  EXPECT_EQ(ts.Token().value(), "three");
}

TEST_F(ConfigTest, TokenFileKeepsLastGoodTokenWhenFileVanishes) {
  FakeClock clock;
  std::string path = Write("token", "good");
  TokenSource ts("", path, clock);
  EXPECT_EQ(ts.Token().value(), "good");
  std::filesystem::remove(path);
  clock.Advance(absl::Minutes(2));
  EXPECT_EQ(ts.Token().value(), "good");
}

TEST_F(ConfigTest, TokenFileNeverReadableIsAnError) {
  FakeClock clock;
  TokenSource ts("", (dir_ / "none").string(), clock);
  absl::StatusOr<std::string> t = ts.Token();
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(t.status().message(), HasSubstr("none"));
  Write("none", "late");
  EXPECT_EQ(ts.Token().value(), "late");  // retried at once, no interval wait
}

TEST(DefaultUserAgentTest, NamesTheController) {
  EXPECT_THAT(DefaultUserAgent(), HasSubstr("weir-controller/"));
}

TEST(ResolvePathTest, Cases) {
  EXPECT_EQ(internal::ResolvePath("/a/b", "c.crt"), "/a/b/c.crt");
  EXPECT_EQ(internal::ResolvePath("/a/b", "../c.crt"), "/a/c.crt");
  EXPECT_EQ(internal::ResolvePath("/a/b", "/x/c.crt"), "/x/c.crt");
  EXPECT_EQ(internal::ResolvePath("", "c.crt"), "c.crt");
}

}  // namespace
}  // namespace weir::kube
