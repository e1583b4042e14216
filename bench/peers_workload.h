// The workloads of `make bench-peers` (issue 14), as pure functions for
// bench/peers_bench.cc: the steps of each shape, the objects each system is
// given (docs: ../shared/peers.md §0 and §4), and FlowTracker, which maps the
// pods, children and owners that the driver's watches see to (flow, step),
// records when each thing was first seen, and turns those instants into the
// figures the driver prints.
//
// Systems: weir (JobFlows over one JobTemplate "t"), batch (weir Batches of
// "t", one step each), volcano (Volcano JobFlows over one JobTemplate per
// step), argo (Argo Workflows with a DAG), raw (batch/v1 Jobs named
// <flow>-<step> that the driver itself creates, the next one when a watch
// shows its dependencies' Jobs Complete).
//
// Steps are named s0, s1, ... in every shape: chain s0 -> s1 -> ...; fanout
// s0 -> s1..s<width> -> s<width+1>; single s0 (Volcano's JobTemplates are
// named like the steps, so the same names serve all shapes).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kube/client.h"
#include "nlohmann/json.hpp"

namespace weir::bench {

enum class System { kWeir, kBatch, kVolcano, kArgo, kRaw };
enum class Shape { kChain, kFanout, kSingle };

absl::StatusOr<System> ParseSystem(absl::string_view name);  // "weir", "batch", ...
absl::StatusOr<Shape> ParseShape(absl::string_view name);    // "chain", "fanout", "single"
absl::string_view SystemName(System system);
absl::string_view ShapeName(Shape shape);

struct Step {
  std::string name;
  std::vector<std::string> depends_on;  // all must have succeeded
  bool operator==(const Step&) const = default;
};

struct Workload {
  System system = System::kWeir;
  Shape shape = Shape::kChain;
  std::vector<Step> steps;
  // sim.weir.dev/duration of every pod (hack/kwok/stages.yaml), e.g. "0s".
  std::string pod_duration;
};

// The workload of `steps` chained steps (chain), 1 -> `width` -> 1 (fanout)
// or one step (single). InvalidArgument for sizes below 1, a duration that
// is not one, or batch with a shape other than single.
absl::StatusOr<Workload> MakeWorkload(System system, Shape shape, int steps, int width,
                                      std::string pod_duration);

// The peers' resources (weir's and the core ones are in kube::resources).
namespace peer_resources {
kube::ResourceRef VolcanoJobFlows();      // flow.volcano.sh/v1alpha1 jobflows
kube::ResourceRef VolcanoJobTemplates();  // flow.volcano.sh/v1alpha1 jobtemplates
kube::ResourceRef VolcanoJobs();          // batch.volcano.sh/v1alpha1 jobs (vcjobs)
kube::ResourceRef ArgoWorkflows();        // argoproj.io/v1alpha1 workflows
}  // namespace peer_resources

// An object to create, and where.
struct NewObject {
  kube::ResourceRef resource;
  nlohmann::json body;
};

// What the system needs before any flow: weir and batch the JobTemplate "t",
// volcano one JobTemplate per step; argo and raw nothing.
std::vector<NewObject> SetupObjects(const Workload& workload);

// What starts flow `flow`: a weir JobFlow, a Batch, a Volcano JobFlow or an
// Argo Workflow; for raw the Jobs of the steps without dependencies.
std::vector<NewObject> FlowObjects(const Workload& workload, const std::string& flow);

// raw: the batch/v1 Job of one step of a flow.
NewObject RawJob(const Workload& workload, const std::string& flow, const std::string& step);

// What the driver watches in the namespace besides pods: the objects each
// step creates (batch/v1 Jobs, vcjobs; none for argo, whose steps are pods)
// and the owners whose status records the steps (none for raw).
std::optional<kube::ResourceRef> ChildResource(System system);
std::optional<kube::ResourceRef> OwnerResource(System system);

// The name of measured flow `index` of `count`: f000, f001, ... (more digits
// when `count` needs them).
std::string FlowName(int index, int count);

// Nearest-rank percentile (0 < p <= 100) of `values`; nullopt if empty.
std::optional<double> Percentile(std::vector<double> values, double p);

using MonoTime = std::chrono::steady_clock::time_point;

struct StepRef {
  std::string flow;
  std::string step;
  bool operator==(const StepRef&) const = default;
};

// The figures of one run over its measured flows.
struct Figures {
  int flows = 0;
  int steps = 0;  // steps per flow times flows
  int succeeded = 0;
  int failed = 0;
  double wall_s = 0;  // t0 -> the last flow seen terminal
  std::optional<double> flow_latency_p50_s, flow_latency_p99_s;
  std::optional<double> step_latency_p50_ms, step_latency_p99_ms;
  std::optional<double> status_latency_p50_ms, status_latency_p99_ms;
  // How many steps each latency was taken from (a step counts once all its
  // instants were seen), and the flows not seen terminal: for stderr.
  int step_latency_samples = 0;
  int status_latency_samples = 0;
  std::vector<std::string> unfinished;
};

// The one JSON object peers_bench prints (keys in the contract's order);
// `created` counts every object the driver created.
nlohmann::ordered_json FiguresJson(const Workload& workload, const Figures& figures, int created);

// What the watches saw, per flow and step, at the client's monotonic
// instants. Objects of flows it was not told about are ignored. Only the
// first sighting of each thing counts (later events of the same object
// repeat what is known). Thread-compatible: the driver serializes calls.
class FlowTracker {
 public:
  explicit FlowTracker(Workload workload);

  // Flow `flow` is about to be created (its first create request is sent at
  // `at`). For raw its first steps are then under way (FlowObjects creates
  // them), so TakeDueSteps never returns them.
  void AddFlow(const std::string& flow, MonoTime at);

  // A pod of the namespace as a watch or list showed it at `at`. Records its
  // step's pod ending (phase Succeeded or Failed; the latest pod of a step
  // counts) and, for argo, whose steps are pods, the step's creation.
  void ObservePod(const nlohmann::json& pod, MonoTime at);
  // A Job (weir, batch, raw) or vcjob (volcano): the step's creation; for
  // raw also its end (condition Complete or Failed), which may end the flow
  // and make dependent steps due.
  void ObserveChild(const nlohmann::json& child, MonoTime at);
  // A JobFlow, Batch, Volcano JobFlow or Workflow: which steps its status
  // records as terminal, and whether the flow has ended.
  void ObserveOwner(const nlohmann::json& owner, MonoTime at);

  // raw: the steps whose dependencies' Jobs have all completed since the
  // last call, each returned once, to be created by the caller.
  std::vector<StepRef> TakeDueSteps();

  // Flows seen terminal so far (all flows added, not only measured ones).
  int terminal_count() const { return terminal_count_; }

  // The figures over `flows` (those not terminal count as neither succeeded
  // nor failed but as unfinished), measured from `t0`.
  Figures Summarize(const std::vector<std::string>& flows, MonoTime t0) const;

 private:
  struct StepState {
    std::optional<MonoTime> child_seen;
    std::optional<MonoTime> pod_ended;       // the latest of its pods
    std::optional<MonoTime> status_records;  // owner's status shows it terminal
    bool job_complete = false;               // raw
    bool due = false;                        // raw: created or handed out
  };
  struct FlowState {
    MonoTime created;
    std::optional<MonoTime> terminal;
    bool succeeded = false;
    std::vector<StepState> steps;  // in workload_.steps order
  };

  // The step of a pod or child from its labels, annotations or name.
  std::optional<StepRef> StepOfPod(const nlohmann::json& pod) const;
  std::optional<StepRef> StepOfChild(const nlohmann::json& child) const;
  StepState* Find(const StepRef& ref);
  void EndFlow(FlowState& flow, bool succeeded, MonoTime at);
  void RecordStatus(FlowState& flow, const std::string& step, MonoTime at);

  Workload workload_;
  std::map<std::string, int> step_index_;
  std::map<std::string, FlowState> flows_;
  // volcano: "<flow>-<step>", the name of a step's vcjob and its pods' label
  // volcano.sh/job-name.
  std::map<std::string, StepRef> by_child_name_;
  std::set<std::string> ended_pods_;  // uids of pods seen ended
  std::vector<StepRef> due_;
  int terminal_count_ = 0;
};

}  // namespace weir::bench
