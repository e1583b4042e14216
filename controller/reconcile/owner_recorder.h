// OwnerRecorder records what a Batch's or JobFlow's plan made true, once the
// writes that made it true have succeeded: the plan's Events on the owner,
// and the phase metrics <prefix>_phase_transitions_total{from,to},
// <prefix>_outcomes_total{phase,reason} and
// <prefix>_refused_transitions_total{from,to} (with a warning log, since a
// refused change means a plan asked for a move the table forbids).
//
// Thread-safety: safe for concurrent use (the recorder, registry and logger
// are).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "lifecycle/phase.h"
#include "nlohmann/json.hpp"
#include "reconcile/owner_plan.h"
#include "runtime/event_recorder.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

namespace weir::reconcile {

using PhasePair = std::pair<lifecycle::Phase, lifecycle::Phase>;

// What one plan made true, for OwnerRecorder::Record.
struct PlanRecord {
  const std::vector<OwnerEvent>* events = nullptr;
  const std::vector<PhasePair>* transitions = nullptr;
  std::vector<PhasePair> refused;
  std::string phase;           // the owner's phase after the plan
  std::string outcome_reason;  // set when the plan ended the owner
};

class OwnerRecorder {
 public:
  // `prefix` names the metrics (e.g. "weir_batch"), `kind` the owner in help
  // texts and logs (e.g. "Batch"). REQUIRES: pointers non-null and outliving
  // this object.
  OwnerRecorder(runtime::EventRecorder* recorder, runtime::MetricsRegistry* metrics,
                runtime::Logger logger, absl::string_view prefix, absl::string_view kind);

  void Record(const nlohmann::json& object, const PlanRecord& record);
  // An outcome reached outside a plan (a Job the API server refused).
  void Outcome(absl::string_view phase, absl::string_view reason);

 private:
  runtime::EventRecorder* recorder_;
  runtime::Logger logger_;
  std::string kind_;
  runtime::CounterFamily* transitions_;
  runtime::CounterFamily* outcomes_;
  runtime::CounterFamily* refused_;
};

}  // namespace weir::reconcile
