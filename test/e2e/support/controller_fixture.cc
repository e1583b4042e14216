#include "test/e2e/support/controller_fixture.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "test/e2e/support/batch_objects.h"

namespace weir::e2e {

using nlohmann::json;

void ControllerFixture::SetUp() {
  absl::StatusOr<Kubectl> kubectl = Kubectl::FromEnv();
  ASSERT_TRUE(kubectl.ok()) << kubectl.status();
  kubectl_.emplace(*std::move(kubectl));
  ns_.emplace(*kubectl_, "e2e");
  if (oracle_on_) {
    absl::StatusOr<std::unique_ptr<OracleWatch>> watch = OracleWatch::Start(*kubectl_, ns_->name());
    ASSERT_TRUE(watch.ok()) << watch.status();
    oracle_ = *std::move(watch);
  }
  RestartController(false);
}

void ControllerFixture::TearDown() {
  if (oracle_ != nullptr) FinishOracle();
  if (!controller_.has_value()) return;
  controller_->Stop();
  ExpectNoSanitizerReports();
  if (HasFailure()) std::fprintf(stderr, "controller log: %s\n", controller_->log_path().c_str());
}

void ControllerFixture::RestartController(bool crash) {
  if (controller_.has_value()) {
    if (crash) {
      controller_->Kill();
    } else {
      controller_->Stop();
    }
    ExpectNoSanitizerReports();
  }
  std::vector<std::string> flags = {absl::StrCat("--namespace=", ns_->name()),
                                    "--batch-idle-timeout=1h"};
  flags.insert(flags.end(), flags_.begin(), flags_.end());
  controller_.emplace(std::move(flags));
  ASSERT_TRUE(controller_->Start().ok());
  absl::Status ready = controller_->WaitReady(absl::Seconds(30));
  ASSERT_TRUE(ready.ok()) << ready;
}

void ControllerFixture::ExpectNoSanitizerReports() {
  for (const std::string& report : controller_->SanitizerReports()) {
    ADD_FAILURE() << "weir-controller (" << controller_->log_path() << "): " << report;
  }
}

oracle::Stats ControllerFixture::FinishOracle() {
  if (oracle_ == nullptr) {
    ADD_FAILURE() << "FinishOracle: the oracle is off or already finished";
    return {};
  }
  return FinishAndJudge(std::exchange(oracle_, nullptr));
}

void ControllerFixture::Apply(json object) {
  object["metadata"]["namespace"] = ns_->name();
  absl::Status s = kubectl_->Apply(object);
  ASSERT_TRUE(s.ok()) << s;
}

json ControllerFixture::Get(const std::string& resource, const std::string& name) {
  absl::StatusOr<std::optional<json>> o = kubectl_->Find(resource, name, ns_->name());
  if (!o.ok()) {
    ADD_FAILURE() << o.status();
    return json();
  }
  if (!o->has_value()) {
    ADD_FAILURE() << resource << " " << name << " does not exist";
    return json();
  }
  return **std::move(o);
}

std::optional<json> ControllerFixture::Find(const std::string& resource, const std::string& name) {
  absl::StatusOr<std::optional<json>> o = kubectl_->Find(resource, name, ns_->name());
  if (!o.ok()) {
    ADD_FAILURE() << o.status();
    return std::nullopt;
  }
  return *std::move(o);
}

json ControllerFixture::List(const std::string& resource, const std::string& selector) {
  std::vector<std::string> args = {"get", resource, "-n", ns_->name()};
  if (!selector.empty()) args.insert(args.end(), {"-l", selector});
  absl::StatusOr<json> list = kubectl_->GetJson(args);
  if (!list.ok()) {
    ADD_FAILURE() << list.status();
    return json::array();
  }
  return (*list)["items"];
}

void ControllerFixture::Patch(const std::string& resource, const std::string& name,
                              const json& patch) {
  absl::StatusOr<std::string> out = kubectl_->Run(
      {"patch", resource, name, "-n", ns_->name(), "--type=merge", "-p", patch.dump()});
  ASSERT_TRUE(out.ok()) << out.status();
}

json ControllerFixture::WaitForPhase(const std::string& resource, const std::string& name,
                                     const std::string& phase, absl::Duration timeout) {
  json o;
  bool ok = Eventually(
      [&] {
        o = Get(resource, name);
        return Phase(o) == phase;
      },
      timeout);
  EXPECT_TRUE(ok) << resource << " " << name << " never reached " << phase
                  << "; last: " << o.dump();
  return o;
}

std::vector<std::string> ControllerFixture::EventReasons(const std::string& name) {
  absl::StatusOr<std::string> out = kubectl_->Run(
      {"get", "events", "-n", ns_->name(), "--field-selector",
       absl::StrCat("involvedObject.name=", name), "--sort-by=.metadata.creationTimestamp", "-o",
       "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}"});
  if (!out.ok()) {
    ADD_FAILURE() << out.status();
    return {};
  }
  return absl::StrSplit(*out, '\n', absl::SkipEmpty());
}

std::string ControllerFixture::Phase(const json& object) { return PhaseOf(object); }

}  // namespace weir::e2e
