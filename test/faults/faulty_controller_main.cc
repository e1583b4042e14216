// weir-controller-faults: weir-controller with its Kubernetes client wrapped
// in a FaultyClient (fault_client.h), for the fault-injection suite. Takes
// every weir-controller flag, plus --faults.
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "controller_main.h"
#include "test/faults/fault_client.h"

ABSL_FLAG(std::string, faults, "",
          "The faults to inject, e.g. seed=7,crash-after-write=3,error-rate=0.05 "
          "(test/faults/fault_client.h); empty injects none.");

int main(int argc, char** argv) {
  return weir::ControllerMain(
      argc, argv,
      [](weir::kube::Client* inner) -> absl::StatusOr<std::unique_ptr<weir::kube::Client>> {
        absl::StatusOr<weir::faults::FaultPlan> plan =
            weir::faults::ParseFaultPlan(absl::GetFlag(FLAGS_faults));
        if (!plan.ok()) return plan.status();
        return std::make_unique<weir::faults::FaultyClient>(inner, *std::move(plan));
      });
}
