// OracleWatch: feeds the independent oracle (test/oracle/history.h) with
// every version of a namespace's Batches, JobFlows, Jobs and Pods, from the
// moment it starts, and checks invariant 4 (after the end the controller
// stops writing) in real time.
//
// The watches are the API server's own (`kubectl get --raw ...?watch=1`), all
// four from one resourceVersion read at Start, so nothing stored after Start
// is missed however late a kubectl process connects. A watch the API server
// ends cleanly (a CRD change, a watcher it found too slow under load) is
// resumed at once from the last resourceVersion it delivered, so the history
// has no hole; a watch that fails or sends an ERROR (410 Gone) is an error.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "test/e2e/support/kubectl.h"
#include "test/oracle/history.h"

namespace weir::e2e {

class OracleWatch {
 public:
  static absl::StatusOr<std::unique_ptr<OracleWatch>> Start(const Kubectl& kubectl,
                                                            const std::string& ns);
  ~OracleWatch();

  // Waits until no Batch or JobFlow has been written for `quiet` (else, after
  // `timeout`, records an invariant 4 violation naming the owners still being
  // written), stops the watches and returns the whole history.
  absl::StatusOr<oracle::History> Finish(absl::Duration quiet, absl::Duration timeout);

 private:
  struct Stream {
    oracle::Kind kind;
    std::string path;  // the collection watched
    std::unique_ptr<BackgroundKubectl> watch;
    std::string ended;  // the output of earlier watches of it that ended cleanly
    int resumed = 0;
  };
  OracleWatch(Kubectl kubectl, std::string from, std::vector<Stream> streams);
  // Resumes the watches that ended cleanly, every 100 ms, until Finish.
  void Tend();
  // Bytes the Batch and JobFlow watches have printed so far.
  std::vector<size_t> OwnerOutputSizes() const;

  const Kubectl kubectl_;
  const std::string from_;  // the resourceVersion the watches started from
  mutable absl::Mutex mu_;
  std::vector<Stream> streams_ ABSL_GUARDED_BY(mu_);
  absl::Status resume_error_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread tender_;
};

// Finishes `watch` (quiet 4 s, at most 60 s: several of the controller's 1 s
// requeues), judges the whole history and adds a gtest failure for a watch
// error and for each violation, with its numbered history. Returns what the
// oracle counted, printed on one line.
oracle::Stats FinishAndJudge(std::unique_ptr<OracleWatch> watch);

}  // namespace weir::e2e
