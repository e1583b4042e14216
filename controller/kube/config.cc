#include "kube/config.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "version.h"
#include "yaml-cpp/yaml.h"

namespace weir::kube {
namespace internal {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::error_code ec;
  std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (std::filesystem::is_directory(st)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, not a file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open for reading"));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat(path, ": read error"));
  return out.str();
}

std::string ResolvePath(absl::string_view dir, absl::string_view path) {
  if (dir.empty() || path.empty() || path.front() == '/') return std::string(path);
  return (std::filesystem::path(std::string(dir)) / std::string(path)).lexically_normal().string();
}

}  // namespace internal

namespace {

using internal::ReadFile;
using internal::ResolvePath;

// One named cluster, user or context, remembering where it was defined so
// errors name the file and relative paths resolve against its directory.
struct Entry {
  YAML::Node body;
  std::string file;
  std::string dir;
  std::string where;  // e.g. `users[1] "admin"`
};

struct Merged {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
  std::vector<std::string> files;
};

absl::Status FieldError(absl::string_view file, absl::string_view where, absl::string_view field,
                        absl::string_view problem) {
  std::string prefix = absl::StrCat(file, ": ");
  if (!where.empty()) absl::StrAppend(&prefix, where, ": ");
  if (!field.empty()) absl::StrAppend(&prefix, field, ": ");
  return absl::InvalidArgumentError(absl::StrCat(prefix, problem));
}

// The string value of `map[key]`: nullopt if absent or null, an error if it is
// not a scalar.
absl::StatusOr<std::optional<std::string>> GetString(const YAML::Node& map, const char* key,
                                                     absl::string_view file,
                                                     absl::string_view where) {
  const YAML::Node node = map[key];
  if (!node.IsDefined() || node.IsNull()) return std::optional<std::string>();
  if (!node.IsScalar()) return FieldError(file, where, key, "must be a string");
  return std::optional<std::string>(node.Scalar());
}

absl::StatusOr<bool> GetBool(const YAML::Node& map, const char* key, absl::string_view file,
                             absl::string_view where) {
  const YAML::Node node = map[key];
  if (!node.IsDefined() || node.IsNull()) return false;
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return FieldError(file, where, key, "must be true or false");
  }
  return value;
}

absl::Status AddSection(const YAML::Node& root, const char* section, const char* body_key,
                        const std::string& file, const std::string& dir,
                        std::map<std::string, Entry>* out) {
  const YAML::Node list = root[section];
  if (!list.IsDefined() || list.IsNull()) return absl::OkStatus();
  if (!list.IsSequence()) return FieldError(file, "", section, "must be a list");
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node item = list[i];
    std::string where = absl::StrCat(section, "[", i, "]");
    if (!item.IsMap())
      return FieldError(file, where, "", absl::StrCat("must be a map with name and ", body_key));
    absl::StatusOr<std::optional<std::string>> name = GetString(item, "name", file, where);
    if (!name.ok()) return name.status();
    if (!name->has_value() || (*name)->empty()) return FieldError(file, where, "name", "missing");
    absl::StrAppend(&where, " \"", **name, "\"");
    const YAML::Node body = item[body_key];
    if (!body.IsDefined() || body.IsNull()) return FieldError(file, where, body_key, "missing");
    if (!body.IsMap()) return FieldError(file, where, body_key, "must be a map");
    // The first definition of a name wins (kubectl's merge rule).
    out->emplace(**name, Entry{body, file, dir, where});
  }
  return absl::OkStatus();
}

absl::Status MergeFile(absl::string_view yaml, const std::string& file, const std::string& dir,
                       Merged* merged) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": not valid YAML (line ", e.mark.line + 1, "): ", e.msg));
  }
  merged->files.push_back(file);
  if (!root.IsDefined() || root.IsNull()) return absl::OkStatus();  // an empty file is legal
  if (!root.IsMap()) return FieldError(file, "", "", "top level must be a map (kind: Config)");
  absl::StatusOr<std::optional<std::string>> kind = GetString(root, "kind", file, "");
  if (!kind.ok()) return kind.status();
  if (kind->has_value() && **kind != "Config") {
    return FieldError(file, "", "kind", absl::StrCat("is \"", **kind, "\", want \"Config\""));
  }
  if (absl::Status s = AddSection(root, "clusters", "cluster", file, dir, &merged->clusters);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = AddSection(root, "users", "user", file, dir, &merged->users); !s.ok()) {
    return s;
  }
  if (absl::Status s = AddSection(root, "contexts", "context", file, dir, &merged->contexts);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::optional<std::string>> current = GetString(root, "current-context", file, "");
  if (!current.ok()) return current.status();
  if (merged->current_context.empty() && current->has_value()) {
    merged->current_context = **current;
  }
  return absl::OkStatus();
}

// Checks that `data` looks like PEM with the given kind of block.
absl::Status CheckPem(absl::string_view data, absl::string_view what, const Entry& e,
                      absl::string_view field) {
  if (!absl::StrContains(data, "-----BEGIN ")) {
    return FieldError(e.file, e.where, field, absl::StrCat("does not hold PEM-encoded ", what));
  }
  return absl::OkStatus();
}

// Reads `<field>-data` (base64) or `<field>` (a path, relative to the file
// defining the entry). `*out` stays empty if neither is set.
absl::Status LoadBytes(const Entry& e, const char* field, absl::string_view what,
                       std::string* out) {
  const std::string data_field = absl::StrCat(field, "-data");
  absl::StatusOr<std::optional<std::string>> data =
      GetString(e.body, data_field.c_str(), e.file, e.where);
  if (!data.ok()) return data.status();
  if (data->has_value() && !(*data)->empty()) {
    std::string compact = **data;
    compact.erase(std::remove_if(compact.begin(), compact.end(),
                                 [](unsigned char c) { return absl::ascii_isspace(c); }),
                  compact.end());
    if (!absl::Base64Unescape(compact, out) || out->empty()) {
      return FieldError(e.file, e.where, data_field, "is not valid base64");
    }
    return CheckPem(*out, what, e, data_field);
  }
  absl::StatusOr<std::optional<std::string>> path = GetString(e.body, field, e.file, e.where);
  if (!path.ok()) return path.status();
  if (!path->has_value() || (*path)->empty()) return absl::OkStatus();
  std::string resolved = ResolvePath(e.dir, **path);
  absl::StatusOr<std::string> bytes = ReadFile(resolved);
  if (!bytes.ok()) return FieldError(e.file, e.where, field, bytes.status().message());
  *out = *std::move(bytes);
  return CheckPem(*out, what, e, field);
}

absl::Status FillCluster(const Entry& e, RestConfig* config) {
  for (const auto& kv : e.body) {
    const std::string key = kv.first.as<std::string>("");
    if (key == "tls-server-name" || key == "proxy-url") {
      return FieldError(e.file, e.where, key, "is not supported by weir's client");
    }
  }
  absl::StatusOr<std::optional<std::string>> server = GetString(e.body, "server", e.file, e.where);
  if (!server.ok()) return server.status();
  if (!server->has_value() || (*server)->empty()) {
    return FieldError(e.file, e.where, "server", "missing");
  }
  std::string url = **server;
  if (!absl::StartsWith(url, "https://") && !absl::StartsWith(url, "http://")) {
    return FieldError(e.file, e.where, "server",
                      absl::StrCat("\"", url, "\" must start with https:// or http://"));
  }
  while (absl::EndsWith(url, "/")) url.pop_back();
  config->server = url;
  if (absl::Status s = LoadBytes(e, "certificate-authority", "certificates", &config->ca_data);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<bool> insecure = GetBool(e.body, "insecure-skip-tls-verify", e.file, e.where);
  if (!insecure.ok()) return insecure.status();
  config->insecure_skip_tls_verify = *insecure;
  return absl::OkStatus();
}

absl::Status FillUser(const Entry& e, RestConfig* config) {
  // Every key weir understands; anything else is an auth method it cannot
  // use, and silently ignoring it would send unauthenticated requests.
  static const char* const kKnown[] = {"client-certificate",
                                       "client-certificate-data",
                                       "client-key",
                                       "client-key-data",
                                       "token",
                                       "tokenFile",
                                       "extensions"};
  for (const auto& kv : e.body) {
    const std::string key = kv.first.as<std::string>("");
    if (std::find(std::begin(kKnown), std::end(kKnown), key) != std::end(kKnown)) continue;
    if (key == "exec") {
      std::string command = kv.second.IsMap() ? kv.second["command"].as<std::string>("") : "";
      return FieldError(e.file, e.where, "exec",
                        absl::StrCat("exec credential plugins are not supported (command \"",
                                     command, "\"); use a token, tokenFile or client certificate"));
    }
    if (key == "auth-provider") {
      std::string name = kv.second.IsMap() ? kv.second["name"].as<std::string>("") : "";
      return FieldError(e.file, e.where, "auth-provider",
                        absl::StrCat("auth provider \"", name, "\" is not supported"));
    }
    if (key == "username" || key == "password") {
      return FieldError(e.file, e.where, key, "basic authentication is not supported");
    }
    if (absl::StartsWith(key, "as")) {
      return FieldError(e.file, e.where, key, "impersonation is not supported");
    }
    return FieldError(e.file, e.where, key, "unknown authentication field");
  }
  if (absl::Status s =
          LoadBytes(e, "client-certificate", "certificates", &config->client_cert_data);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = LoadBytes(e, "client-key", "a private key", &config->client_key_data);
      !s.ok()) {
    return s;
  }
  if (config->client_cert_data.empty() != config->client_key_data.empty()) {
    return FieldError(e.file, e.where,
                      config->client_cert_data.empty() ? "client-certificate" : "client-key",
                      "missing (client-certificate and client-key must be given together)");
  }
  absl::StatusOr<std::optional<std::string>> token = GetString(e.body, "token", e.file, e.where);
  if (!token.ok()) return token.status();
  if (token->has_value()) config->bearer_token = std::string(absl::StripAsciiWhitespace(**token));
  absl::StatusOr<std::optional<std::string>> token_file =
      GetString(e.body, "tokenFile", e.file, e.where);
  if (!token_file.ok()) return token_file.status();
  if (token_file->has_value() && !(*token_file)->empty()) {
    config->token_file = ResolvePath(e.dir, **token_file);
    absl::StatusOr<std::string> contents = ReadFile(config->token_file);
    if (!contents.ok())
      return FieldError(e.file, e.where, "tokenFile", contents.status().message());
  }
  return absl::OkStatus();
}

absl::StatusOr<RestConfig> Resolve(const Merged& merged, absl::string_view context) {
  const std::string files = absl::StrJoin(merged.files, ":");
  std::string name(context.empty() ? merged.current_context : context);
  if (name.empty()) {
    return FieldError(files, "", "current-context", "not set and no context was given");
  }
  auto ctx = merged.contexts.find(name);
  if (ctx == merged.contexts.end()) {
    return FieldError(files, "", context.empty() ? "current-context" : "context",
                      absl::StrCat("context \"", name, "\" not found"));
  }
  const Entry& c = ctx->second;
  absl::StatusOr<std::optional<std::string>> cluster_name =
      GetString(c.body, "cluster", c.file, c.where);
  if (!cluster_name.ok()) return cluster_name.status();
  if (!cluster_name->has_value() || (*cluster_name)->empty()) {
    return FieldError(c.file, c.where, "cluster", "missing");
  }
  auto cluster = merged.clusters.find(**cluster_name);
  if (cluster == merged.clusters.end()) {
    return FieldError(c.file, c.where, "cluster",
                      absl::StrCat("cluster \"", **cluster_name, "\" not found"));
  }
  RestConfig config;
  config.source = absl::StrCat("kubeconfig ", files, " (context ", name, ")");
  if (absl::Status s = FillCluster(cluster->second, &config); !s.ok()) return s;
  absl::StatusOr<std::optional<std::string>> user_name = GetString(c.body, "user", c.file, c.where);
  if (!user_name.ok()) return user_name.status();
  if (user_name->has_value() && !(*user_name)->empty()) {
    auto user = merged.users.find(**user_name);
    if (user == merged.users.end()) {
      return FieldError(c.file, c.where, "user",
                        absl::StrCat("user \"", **user_name, "\" not found"));
    }
    if (absl::Status s = FillUser(user->second, &config); !s.ok()) return s;
  }
  absl::StatusOr<std::optional<std::string>> ns = GetString(c.body, "namespace", c.file, c.where);
  if (!ns.ok()) return ns.status();
  if (ns->has_value() && !(*ns)->empty()) config.default_namespace = **ns;
  return config;
}

std::string DirOf(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

}  // namespace

std::string DefaultUserAgent() { return absl::StrCat("weir-controller/", kVersion); }

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

absl::StatusOr<RestConfig> ParseKubeconfig(absl::string_view yaml, absl::string_view file,
                                           absl::string_view base_dir, absl::string_view context) {
  Merged merged;
  try {
    if (absl::Status s = MergeFile(yaml, std::string(file), std::string(base_dir), &merged);
        !s.ok()) {
      return s;
    }
    return Resolve(merged, context);
  } catch (const std::exception& e) {
    // yaml-cpp throws on conversions that the checks above did not foresee.
    return absl::InvalidArgumentError(absl::StrCat(file, ": malformed kubeconfig: ", e.what()));
  }
}

absl::StatusOr<RestConfig> LoadKubeconfigFile(const std::string& path, absl::string_view context) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseKubeconfig(*text, path, DirOf(path), context);
}

absl::StatusOr<RestConfig> LoadKubeconfigFiles(const std::vector<std::string>& paths,
                                               absl::string_view context) {
  Merged merged;
  try {
    for (const std::string& path : paths) {
      if (path.empty()) continue;
      absl::StatusOr<std::string> text = ReadFile(path);
      if (absl::IsNotFound(text.status())) continue;
      if (!text.ok()) return text.status();
      if (absl::Status s = MergeFile(*text, path, DirOf(path), &merged); !s.ok()) return s;
    }
    if (merged.files.empty()) {
      return absl::NotFoundError(
          absl::StrCat("none of the kubeconfig files exists: ", absl::StrJoin(paths, ":")));
    }
    return Resolve(merged, context);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(absl::StrJoin(merged.files, ":"), ": malformed kubeconfig: ", e.what()));
  }
}

bool InClusterEnvPresent(const EnvLookup& env) {
  std::optional<std::string> host = env("KUBERNETES_SERVICE_HOST");
  std::optional<std::string> port = env("KUBERNETES_SERVICE_PORT");
  return host.has_value() && !host->empty() && port.has_value() && !port->empty();
}

absl::StatusOr<RestConfig> LoadInClusterConfig(const EnvLookup& env, const InClusterPaths& paths) {
  if (!InClusterEnvPresent(env)) {
    return absl::FailedPreconditionError(
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
        "set");
  }
  std::string host = *env("KUBERNETES_SERVICE_HOST");
  const std::string port = *env("KUBERNETES_SERVICE_PORT");
  if (absl::StrContains(host, ':') && !absl::StartsWith(host, "["))
    host = absl::StrCat("[", host, "]");
  RestConfig config;
  config.server = absl::StrCat("https://", host, ":", port);
  config.source = "in-cluster service account";
  absl::StatusOr<std::string> token = ReadFile(paths.token_file);
  if (!token.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("in-cluster config: service account token: ", token.status().message()));
  }
  if (absl::StripAsciiWhitespace(*token).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("in-cluster config: ", paths.token_file, ": token file is empty"));
  }
  config.token_file = paths.token_file;
  absl::StatusOr<std::string> ca = ReadFile(paths.ca_file);
  if (!ca.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("in-cluster config: service account CA: ", ca.status().message()));
  }
  if (!absl::StrContains(*ca, "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrCat("in-cluster config: ", paths.ca_file, ": does not hold PEM certificates"));
  }
  config.ca_data = *std::move(ca);
  absl::StatusOr<std::string> ns = ReadFile(paths.namespace_file);
  if (ns.ok() && !absl::StripAsciiWhitespace(*ns).empty()) {
    config.default_namespace = std::string(absl::StripAsciiWhitespace(*ns));
  }
  return config;
}

absl::StatusOr<RestConfig> LoadConfig(const LoadOptions& options) {
  if (!options.kubeconfig.empty()) return LoadKubeconfigFile(options.kubeconfig, options.context);
  if (options.context.empty() && InClusterEnvPresent(options.env)) {
    return LoadInClusterConfig(options.env, options.in_cluster);
  }
  std::optional<std::string> list = options.env("KUBECONFIG");
  if (list.has_value() && !list->empty()) {
    std::vector<std::string> paths = absl::StrSplit(*list, ':', absl::SkipEmpty());
    return LoadKubeconfigFiles(paths, options.context);
  }
  std::optional<std::string> home = options.env("HOME");
  if (home.has_value() && !home->empty()) {
    std::string path = absl::StrCat(*home, "/.kube/config");
    absl::StatusOr<RestConfig> config = LoadKubeconfigFile(path, options.context);
    if (!absl::IsNotFound(config.status())) return config;
  }
  return absl::FailedPreconditionError(
      "no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, "
      "or run in a pod");
}

TokenSource::TokenSource(std::string static_token, std::string token_file, Clock& clock,
                         absl::Duration reread_interval)
    : static_token_(std::move(static_token)),
      token_file_(std::move(token_file)),
      clock_(clock),
      reread_interval_(reread_interval) {}

absl::StatusOr<std::string> TokenSource::Token() {
  if (token_file_.empty()) return static_token_;
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  if (!have_token_ || now >= next_read_) {
    absl::StatusOr<std::string> contents = ReadFile(token_file_);
    if (contents.ok()) {
      token_ = std::string(absl::StripAsciiWhitespace(*contents));
      have_token_ = true;
      next_read_ = now + reread_interval_;
    } else if (!have_token_) {
      return absl::UnauthenticatedError(
          absl::StrCat("bearer token file: ", contents.status().message()));
    } else {
      // Keep the last good token; try again after the interval.
      next_read_ = now + reread_interval_;
    }
  }
  return token_;
}

void TokenSource::Invalidate() {
  absl::MutexLock lock(&mu_);
  next_read_ = absl::InfinitePast();
}

}  // namespace weir::kube
