// OracleWatch: feeds the independent oracle (test/oracle/history.h) with
// every version of a namespace's Batches, JobFlows, Jobs and Pods, from the
// moment it starts, and checks invariant 4 (after the end the controller
// stops writing) in real time.
//
// The watches are the API server's own (`kubectl get --raw ...?watch=1`), all
// four from one resourceVersion read at Start, so nothing stored after Start
// is missed however late a kubectl process connects. A watch that ends early
// or sends an ERROR is an error: the history would have holes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "test/e2e/support/kubectl.h"
#include "test/oracle/history.h"

namespace weir::e2e {

class OracleWatch {
 public:
  static absl::StatusOr<std::unique_ptr<OracleWatch>> Start(const Kubectl& kubectl,
                                                            const std::string& ns);

  // Waits until no Batch or JobFlow has been written for `quiet` (else, after
  // `timeout`, records an invariant 4 violation naming the owners still being
  // written), stops the watches and returns the whole history.
  absl::StatusOr<oracle::History> Finish(absl::Duration quiet, absl::Duration timeout);

 private:
  struct Stream {
    oracle::Kind kind;
    std::unique_ptr<BackgroundKubectl> watch;
  };
  explicit OracleWatch(std::vector<Stream> streams) : streams_(std::move(streams)) {}
  // Bytes the Batch and JobFlow watches have printed so far.
  std::vector<size_t> OwnerOutputSizes() const;

  std::vector<Stream> streams_;
};

// Finishes `watch` (quiet 4 s, at most 60 s: several of the controller's 1 s
// requeues), judges the whole history and adds a gtest failure for a watch
// error and for each violation, with its numbered history. Returns what the
// oracle counted, printed on one line.
oracle::Stats FinishAndJudge(std::unique_ptr<OracleWatch> watch);

}  // namespace weir::e2e
