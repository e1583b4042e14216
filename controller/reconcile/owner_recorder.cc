#include "reconcile/owner_recorder.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "runtime/store.h"

namespace weir::reconcile {
namespace {

std::string PhaseLabel(lifecycle::Phase p) { return std::string(lifecycle::PhaseName(p)); }

}  // namespace

OwnerRecorder::OwnerRecorder(runtime::EventRecorder* recorder, runtime::MetricsRegistry* metrics,
                             runtime::Logger logger, absl::string_view prefix,
                             absl::string_view kind)
    : recorder_(recorder), logger_(std::move(logger)), kind_(kind) {
  transitions_ = &metrics->AddCounter(
      absl::StrCat(prefix, "_phase_transitions_total"),
      absl::StrCat(kind, " phase transitions, by from and to phase."), {"from", "to"});
  outcomes_ = &metrics->AddCounter(
      absl::StrCat(prefix, "_outcomes_total"),
      absl::StrCat(kind, "s that reached a terminal phase, by phase and reason."),
      {"phase", "reason"});
  refused_ = &metrics->AddCounter(
      absl::StrCat(prefix, "_refused_transitions_total"),
      absl::StrCat(kind,
                   " phase changes the transition table refused (never applied), by from and to "
                   "phase."),
      {"from", "to"});
}

void OwnerRecorder::Record(const nlohmann::json& object, const PlanRecord& record) {
  const runtime::ObjectReference ref = runtime::ObjectReference::From(object);
  if (record.events != nullptr) {
    for (const OwnerEvent& e : *record.events) recorder_->Event(ref, e.type, e.reason, e.message);
  }
  if (record.transitions != nullptr) {
    for (const auto& [from, to] : *record.transitions) {
      transitions_->WithLabelValues({PhaseLabel(from), PhaseLabel(to)}).Inc();
    }
  }
  for (const auto& [from, to] : record.refused) {
    refused_->WithLabelValues({PhaseLabel(from), PhaseLabel(to)}).Inc();
    logger_.Warning("refused a phase change the transition table does not allow",
                    {{absl::AsciiStrToLower(kind_), runtime::ObjectKey(object)},
                     {"from", PhaseLabel(from)},
                     {"to", PhaseLabel(to)}});
  }
  if (!record.outcome_reason.empty()) Outcome(record.phase, record.outcome_reason);
}

void OwnerRecorder::Outcome(absl::string_view phase, absl::string_view reason) {
  outcomes_->WithLabelValues({std::string(phase), std::string(reason)}).Inc();
}

}  // namespace weir::reconcile
