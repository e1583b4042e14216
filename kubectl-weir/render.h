// What kubectl-weir prints: weir objects (as the API server returns them) in,
// text out. Pure: no I/O, no clock (the caller passes `now`), never throws on
// any JSON (the objects are read through api::ParseJobFlow/ParseBatch, which
// read status tolerantly; a missing field prints as "-").
//
// - RenderFlow: the flow's header (phase, progress, times, message) and its
//   DAG as a tree. A step hangs under its first dependency (spec order);
//   every step with dependencies lists all of them with their conditions and
//   whether each holds (✓), cannot hold any more (✗) or is still open (…).
//   Per step: phase, current attempt, its reason, exit code, duration and Job,
//   and a line per earlier attempt (phase, reason, exit code, memory limit);
//   a skipped step says why, any other step that has not succeeded its message
//   (a failed step's exit, a running step's state). A flow whose spec is
//   invalid is drawn from its status alone, as a flat list.
// - RenderBatch: the header and one row per attempt with its memory limit
//   and outcome (and the message of each attempt that did not succeed).
// - RenderFlowDot: Graphviz `digraph` of the steps (filled by phase) and the
//   dependencies (labelled with their conditions).
// - RenderFlowList/RenderBatchList: a List as a table, like kubectl get.
// - JsonText/YamlText: an object for -o json/yaml, metadata.managedFields
//   left out as kubectl does.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "kubectl-weir/style.h"
#include "nlohmann/json.hpp"

namespace weir::cli {

struct RenderOptions {
  absl::Time now;  // for the durations of running attempts and ages
  Style style;
};

std::string RenderFlow(const nlohmann::json& flow, const RenderOptions& options);
std::string RenderBatch(const nlohmann::json& batch, const RenderOptions& options);
std::string RenderFlowDot(const nlohmann::json& flow);
std::string RenderFlowList(const nlohmann::json& list, bool all_namespaces,
                           const RenderOptions& options);
std::string RenderBatchList(const nlohmann::json& list, bool all_namespaces,
                            const RenderOptions& options);

std::string JsonText(const nlohmann::json& object);
std::string YamlText(const nlohmann::json& object);

// kubectl's short durations: "7s", "2m5s", "3h4m", "2d5h"; negative as 0s.
std::string ShortDuration(absl::Duration d);

// True for the phases an owner or step never leaves: Succeeded, Failed,
// Killed, Canceled, Skipped.
bool IsTerminalPhase(absl::string_view phase);

}  // namespace weir::cli
