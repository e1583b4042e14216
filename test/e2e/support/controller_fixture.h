// ControllerFixture: the gtest fixture of e2e tests that run weir-controller
// against the local control plane. Each test gets its own namespace and its
// own controller process watching only that namespace, and runs under the
// independent oracle (test/oracle/history.h), which watches the namespace
// from before the controller starts and judges every version seen when the
// test ends: each violation of docs/design.md §7 fails the test. kubectl is the
// independent witness of what the API server holds. A kubectl error in any
// helper fails the test (a gtest failure that also ends an Eventually wait);
// only Find reads NotFound as an answer. Helpers address weir's
// objects by kubectl resource name, in full ("batches.weir.dev",
// "jobflows.weir.dev", "jobtemplates.weir.dev"): a bare "jobflow" may
// resolve to Volcano's flow.volcano.sh when both are installed.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "test/e2e/support/controller_process.h"
#include "test/e2e/support/eventually.h"
#include "test/e2e/support/kubectl.h"
#include "test/e2e/support/oracle_watch.h"

namespace weir::e2e {

class ControllerFixture : public ::testing::Test {
 protected:
  // Starts the controller with `flags` after the defaults (--namespace and
  // a 1h idle timeout). Every test runs under the oracle unless `oracle` is
  // false.
  explicit ControllerFixture(std::vector<std::string> flags = {}, bool oracle = true)
      : flags_(std::move(flags)), oracle_on_(oracle) {}

  void SetUp() override;
  void TearDown() override;

  const std::string& ns() const { return ns_->name(); }
  const Kubectl& kubectl() const { return *kubectl_; }
  ControllerProcess& controller() { return *controller_; }
  // Stops (SIGKILL when `crash`) and starts a fresh controller process.
  // A sanitizer report in a stopped controller's log fails the test (as in
  // TearDown).
  void RestartController(bool crash);

  // Waits until the controller has stopped writing owners, judges every
  // version seen since SetUp and fails the test on each violation (printing
  // its numbered history). Returns what the oracle counted. TearDown calls
  // it if the test did not: call it earlier only to stop the controller
  // afterwards, or to print the counts.
  oracle::Stats FinishOracle();

  // `kubectl apply` of `object` in the test namespace (fails the test on error).
  void Apply(nlohmann::json object);
  // The object; fails the test (and returns null) if it does not exist.
  nlohmann::json Get(const std::string& resource, const std::string& name);
  // The object, or std::nullopt if it does not exist.
  std::optional<nlohmann::json> Find(const std::string& resource, const std::string& name);
  // items of `kubectl get <resource> -l <selector>` in the namespace.
  nlohmann::json List(const std::string& resource, const std::string& selector = "");
  // A merge patch (fails the test on error).
  void Patch(const std::string& resource, const std::string& name, const nlohmann::json& patch);
  // Waits until `status.phase` is `phase`; returns the object (fails the test
  // on timeout, printing the last object).
  nlohmann::json WaitForPhase(const std::string& resource, const std::string& name,
                              const std::string& phase, absl::Duration timeout = absl::Seconds(60));
  // The reasons of the Events about object `name`, oldest first.
  std::vector<std::string> EventReasons(const std::string& name);

  static std::string Phase(const nlohmann::json& object);

  // Makes the helpers use `kubectl` from now on: for tests of the fixture
  // itself, which point it at a server that does not answer.
  void ReplaceKubectl(Kubectl kubectl) { kubectl_.emplace(std::move(kubectl)); }

 private:
  // Fails the test on each sanitizer report in the controller's log.
  void ExpectNoSanitizerReports();

  std::vector<std::string> flags_;
  bool oracle_on_;
  std::optional<Kubectl> kubectl_;
  std::optional<TestNamespace> ns_;
  std::optional<ControllerProcess> controller_;
  std::unique_ptr<OracleWatch> oracle_;
};

}  // namespace weir::e2e
