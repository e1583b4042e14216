// The weir-controller program as a function: its flags, the Kubernetes
// client, the manager and both reconcilers. main.cc is nothing but a call to
// it; the fault-injection build (test/faults) calls it with a decorator
// around the client, so the shipped binary carries no fault code.
#pragma once

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "kube/client.h"

namespace weir {

// Wraps `inner` (which outlives the result) in another kube::Client; an
// error stops the start.
using ClientDecorator =
    std::function<absl::StatusOr<std::unique_ptr<kube::Client>>(kube::Client* inner)>;

// Parses the flags in argv and runs the controller until a signal stops it.
// Every reconciler and the manager talk to the API server through
// `decorate(client)` when `decorate` is set. Returns the exit code.
int ControllerMain(int argc, char** argv, const ClientDecorator& decorate = {});

}  // namespace weir
