#include "bench/peers_workload.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "base/json_path.h"
#include "reconcile/children.h"

namespace weir::bench {
namespace {

using nlohmann::json;

constexpr char kWeirTemplate[] = "t";
// raw: the labels naming a Job's (and its pod's) flow and step.
constexpr char kRawFlowLabel[] = "bench.weir.dev/flow";
constexpr char kRawStepLabel[] = "bench.weir.dev/step";
// What Volcano and Argo put on the objects they create (weir's labels are
// reconcile/children.h's).
constexpr char kVolcanoJobNameLabel[] = "volcano.sh/job-name";
constexpr char kArgoWorkflowLabel[] = "workflows.argoproj.io/workflow";
constexpr char kArgoNodeNameAnnotation[] = "workflows.argoproj.io/node-name";

constexpr std::pair<System, absl::string_view> kSystems[] = {{System::kWeir, "weir"},
                                                             {System::kBatch, "batch"},
                                                             {System::kVolcano, "volcano"},
                                                             {System::kArgo, "argo"},
                                                             {System::kRaw, "raw"}};
constexpr std::pair<Shape, absl::string_view> kShapes[] = {
    {Shape::kChain, "chain"}, {Shape::kFanout, "fanout"}, {Shape::kSingle, "single"}};

// The elements of the array at object.a.b...; none if it is not an array.
std::vector<json> ArrayAt(const json& object, std::initializer_list<const char*> path) {
  const json& value = JsonAt(object, path);
  return value.is_array() ? value.get<std::vector<json>>() : std::vector<json>{};
}

std::string Label(const json& object, const char* key) {
  return StringAt(object, {"metadata", "labels", key});
}

// The pod template every system runs (peers.md §0): kwok plays it by its
// annotations.
json PodSpec() {
  return {{"containers",
           json::array({{{"name", "main"},
                         {"image", "busybox"},
                         {"command", json::array({"true"})},
                         {"resources", {{"requests", {{"cpu", "10m"}, {"memory", "16Mi"}}}}}}})},
          {"restartPolicy", "Never"}};
}

json PodAnnotations(const Workload& workload) {
  return {{"sim.weir.dev/outcome", "Succeeded"}, {"sim.weir.dev/duration", workload.pod_duration}};
}

json PodTemplate(const Workload& workload, json labels = json::object()) {
  json metadata = {{"annotations", PodAnnotations(workload)}};
  if (!labels.empty()) metadata["labels"] = std::move(labels);
  return {{"metadata", std::move(metadata)}, {"spec", PodSpec()}};
}

json Meta(const std::string& name) { return {{"name", name}}; }

json WeirJobFlow(const Workload& workload, const std::string& flow) {
  json steps = json::array();
  for (const Step& step : workload.steps) {
    json s = {{"name", step.name}, {"template", kWeirTemplate}};
    for (const std::string& dep : step.depends_on) s["dependsOn"].push_back({{"step", dep}});
    steps.push_back(std::move(s));
  }
  return {{"apiVersion", reconcile::kApiVersion},
          {"kind", "JobFlow"},
          {"metadata", Meta(flow)},
          {"spec", {{"steps", std::move(steps)}}}};
}

json VolcanoJobFlow(const Workload& workload, const std::string& flow) {
  json flows = json::array();
  for (const Step& step : workload.steps) {
    json f = {{"name", step.name}};
    if (!step.depends_on.empty()) f["dependsOn"] = {{"targets", step.depends_on}};
    flows.push_back(std::move(f));
  }
  // retain: delete would add a delete per step at the end (peers.md §4).
  return {{"apiVersion", "flow.volcano.sh/v1alpha1"},
          {"kind", "JobFlow"},
          {"metadata", Meta(flow)},
          {"spec", {{"jobRetainPolicy", "retain"}, {"flows", std::move(flows)}}}};
}

json ArgoWorkflow(const Workload& workload, const std::string& flow) {
  json tasks = json::array();
  for (const Step& step : workload.steps) {
    json t = {{"name", step.name}, {"template", "w"}};
    if (!step.depends_on.empty()) t["dependencies"] = step.depends_on;
    tasks.push_back(std::move(t));
  }
  // No outputs and an explicit command: otherwise Argo waits for outputs or
  // asks a registry for the image's entrypoint (peers.md §2). podGC stays
  // at its default, none.
  json container = PodSpec()["containers"][0];
  container.erase("name");  // Argo names it "main" itself
  return {{"apiVersion", "argoproj.io/v1alpha1"},
          {"kind", "Workflow"},
          {"metadata", Meta(flow)},
          {"spec",
           {{"entrypoint", "main"},
            {"templates", json::array({{{"name", "main"}, {"dag", {{"tasks", std::move(tasks)}}}},
                                       {{"name", "w"},
                                        {"metadata", {{"annotations", PodAnnotations(workload)}}},
                                        {"container", std::move(container)}}})}}}};
}

bool IsWeirTerminal(const std::string& phase) {
  return phase == "Succeeded" || phase == "Failed" || phase == "Killed" || phase == "Canceled";
}

}  // namespace

absl::StatusOr<System> ParseSystem(absl::string_view name) {
  for (const auto& [system, n] : kSystems) {
    if (n == name) return system;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown system '", name, "' (weir, batch, volcano, argo or raw)"));
}

absl::StatusOr<Shape> ParseShape(absl::string_view name) {
  for (const auto& [shape, n] : kShapes) {
    if (n == name) return shape;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown shape '", name, "' (chain, fanout or single)"));
}

absl::string_view SystemName(System system) {
  for (const auto& [s, name] : kSystems) {
    if (s == system) return name;
  }
  return "";
}

absl::string_view ShapeName(Shape shape) {
  for (const auto& [s, name] : kShapes) {
    if (s == shape) return name;
  }
  return "";
}

absl::StatusOr<Workload> MakeWorkload(System system, Shape shape, int steps, int width,
                                      std::string pod_duration) {
  absl::Duration unused;
  if (!absl::ParseDuration(pod_duration, &unused)) {
    return absl::InvalidArgumentError(
        absl::StrCat("pod duration '", pod_duration, "' is not a duration such as 0s or 1s"));
  }
  if (system == System::kBatch && shape != Shape::kSingle) {
    return absl::InvalidArgumentError("a Batch is one step: --system=batch needs --shape=single");
  }
  Workload workload;
  workload.system = system;
  workload.shape = shape;
  workload.pod_duration = std::move(pod_duration);
  const auto name = [](int i) { return absl::StrCat("s", i); };
  switch (shape) {
    case Shape::kChain:
      if (steps < 1) return absl::InvalidArgumentError("a chain needs --steps >= 1");
      for (int i = 0; i < steps; ++i) {
        workload.steps.push_back(
            {name(i), i == 0 ? std::vector<std::string>{} : std::vector{name(i - 1)}});
      }
      break;
    case Shape::kFanout: {
      if (width < 1) return absl::InvalidArgumentError("a fan-out needs --width >= 1");
      workload.steps.push_back({name(0), {}});
      std::vector<std::string> middle;
      for (int i = 1; i <= width; ++i) {
        middle.push_back(name(i));
        workload.steps.push_back({name(i), {name(0)}});
      }
      workload.steps.push_back({name(width + 1), std::move(middle)});
      break;
    }
    case Shape::kSingle:
      workload.steps.push_back({name(0), {}});
      break;
  }
  return workload;
}

namespace peer_resources {
kube::ResourceRef VolcanoJobFlows() {
  return {"flow.volcano.sh", "v1alpha1", "jobflows", true, "JobFlow"};
}
kube::ResourceRef VolcanoJobTemplates() {
  return {"flow.volcano.sh", "v1alpha1", "jobtemplates", true, "JobTemplate"};
}
kube::ResourceRef VolcanoJobs() { return {"batch.volcano.sh", "v1alpha1", "jobs", true, "Job"}; }
kube::ResourceRef ArgoWorkflows() {
  return {"argoproj.io", "v1alpha1", "workflows", true, "Workflow"};
}
}  // namespace peer_resources

std::vector<NewObject> SetupObjects(const Workload& workload) {
  std::vector<NewObject> objects;
  switch (workload.system) {
    case System::kWeir:
    case System::kBatch:
      objects.push_back({kube::resources::JobTemplates(),
                         {{"apiVersion", reconcile::kApiVersion},
                          {"kind", "JobTemplate"},
                          {"metadata", Meta(kWeirTemplate)},
                          {"spec", {{"jobSpec", {{"template", PodTemplate(workload)}}}}}}});
      break;
    case System::kVolcano:
      // What Volcano's mutating webhook would fill in, so none is needed
      // (peers.md §1); JobFlow looks its templates up by step name.
      for (const Step& step : workload.steps) {
        json task = {{"name", "main"},
                     {"replicas", 1},
                     {"minAvailable", 1},
                     {"maxRetry", 1},
                     {"template", PodTemplate(workload)}};
        objects.push_back({peer_resources::VolcanoJobTemplates(),
                           {{"apiVersion", "flow.volcano.sh/v1alpha1"},
                            {"kind", "JobTemplate"},
                            {"metadata", Meta(step.name)},
                            {"spec",
                             {{"schedulerName", "volcano"},
                              {"queue", "default"},
                              {"minAvailable", 1},
                              {"maxRetry", 1},
                              {"tasks", json::array({std::move(task)})}}}}});
      }
      break;
    case System::kArgo:
    case System::kRaw:
      break;
  }
  return objects;
}

std::vector<NewObject> FlowObjects(const Workload& workload, const std::string& flow) {
  switch (workload.system) {
    case System::kWeir:
      return {{kube::resources::JobFlows(), WeirJobFlow(workload, flow)}};
    case System::kBatch:
      return {{kube::resources::Batches(),
               {{"apiVersion", reconcile::kApiVersion},
                {"kind", "Batch"},
                {"metadata", Meta(flow)},
                {"spec", {{"template", kWeirTemplate}}}}}};
    case System::kVolcano:
      return {{peer_resources::VolcanoJobFlows(), VolcanoJobFlow(workload, flow)}};
    case System::kArgo:
      return {{peer_resources::ArgoWorkflows(), ArgoWorkflow(workload, flow)}};
    case System::kRaw: {
      std::vector<NewObject> roots;
      for (const Step& step : workload.steps) {
        if (step.depends_on.empty()) roots.push_back(RawJob(workload, flow, step.name));
      }
      return roots;
    }
  }
  return {};
}

NewObject RawJob(const Workload& workload, const std::string& flow, const std::string& step) {
  const json labels = {{kRawFlowLabel, flow}, {kRawStepLabel, step}};
  return {kube::resources::Jobs(),
          {{"apiVersion", "batch/v1"},
           {"kind", "Job"},
           {"metadata", {{"name", absl::StrCat(flow, "-", step)}, {"labels", labels}}},
           {"spec", {{"backoffLimit", 0}, {"template", PodTemplate(workload, labels)}}}}};
}

std::optional<kube::ResourceRef> ChildResource(System system) {
  switch (system) {
    case System::kWeir:
    case System::kBatch:
    case System::kRaw:
      return kube::resources::Jobs();
    case System::kVolcano:
      return peer_resources::VolcanoJobs();
    case System::kArgo:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<kube::ResourceRef> OwnerResource(System system) {
  switch (system) {
    case System::kWeir:
      return kube::resources::JobFlows();
    case System::kBatch:
      return kube::resources::Batches();
    case System::kVolcano:
      return peer_resources::VolcanoJobFlows();
    case System::kArgo:
      return peer_resources::ArgoWorkflows();
    case System::kRaw:
      return std::nullopt;
  }
  return std::nullopt;
}

std::string FlowName(int index, int count) {
  const int digits = std::max<int>(3, absl::StrCat(std::max(count - 1, 0)).size());
  return absl::StrFormat("f%0*d", digits, index);
}

std::optional<double> Percentile(std::vector<double> values, double p) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * values.size()));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

nlohmann::ordered_json FiguresJson(const Workload& workload, const Figures& f, int created) {
  // Seconds to the millisecond and milliseconds to a tenth: the watches'
  // delivery varies more than that.
  const auto round = [](std::optional<double> v, double per_unit) -> nlohmann::ordered_json {
    if (!v.has_value()) return nullptr;
    return std::round(*v * per_unit) / per_unit;
  };
  nlohmann::ordered_json out;
  out["system"] = SystemName(workload.system);
  out["shape"] = ShapeName(workload.shape);
  out["flows"] = f.flows;
  out["steps"] = f.steps;
  out["wall_s"] = round(f.wall_s, 1000);
  out["steps_per_s"] = round(f.wall_s > 0 ? std::optional(f.steps / f.wall_s) : std::nullopt, 100);
  out["flow_latency_p50_s"] = round(f.flow_latency_p50_s, 1000);
  out["flow_latency_p99_s"] = round(f.flow_latency_p99_s, 1000);
  out["step_latency_p50_ms"] = round(f.step_latency_p50_ms, 10);
  out["step_latency_p99_ms"] = round(f.step_latency_p99_ms, 10);
  out["status_latency_p50_ms"] = round(f.status_latency_p50_ms, 10);
  out["status_latency_p99_ms"] = round(f.status_latency_p99_ms, 10);
  out["created"] = created;
  out["succeeded"] = f.succeeded;
  out["failed"] = f.failed;
  return out;
}

FlowTracker::FlowTracker(Workload workload) : workload_(std::move(workload)) {
  for (size_t i = 0; i < workload_.steps.size(); ++i) step_index_[workload_.steps[i].name] = i;
}

void FlowTracker::AddFlow(const std::string& flow, MonoTime at) {
  FlowState& state = flows_[flow];
  state.created = at;
  state.steps.resize(workload_.steps.size());
  for (size_t i = 0; i < workload_.steps.size(); ++i) {
    if (workload_.system == System::kVolcano) {
      by_child_name_[absl::StrCat(flow, "-", workload_.steps[i].name)] = {flow,
                                                                          workload_.steps[i].name};
    }
    state.steps[i].due = workload_.steps[i].depends_on.empty();
  }
}

std::optional<StepRef> FlowTracker::StepOfPod(const json& pod) const {
  switch (workload_.system) {
    case System::kWeir:
      return StepRef{Label(pod, reconcile::kLabelFlow), Label(pod, reconcile::kLabelStep)};
    case System::kBatch:
      return StepRef{Label(pod, reconcile::kLabelBatch), workload_.steps[0].name};
    case System::kRaw:
      return StepRef{Label(pod, kRawFlowLabel), Label(pod, kRawStepLabel)};
    case System::kVolcano: {
      auto it = by_child_name_.find(Label(pod, kVolcanoJobNameLabel));
      if (it == by_child_name_.end()) return std::nullopt;
      return it->second;
    }
    case System::kArgo: {
      // The node of DAG task <task> of Workflow <flow> is "<flow>.<task>".
      const std::string flow = Label(pod, kArgoWorkflowLabel);
      const std::string node = StringAt(pod, {"metadata", "annotations", kArgoNodeNameAnnotation});
      if (flow.empty() || !absl::StartsWith(node, flow + ".")) return std::nullopt;
      return StepRef{flow, node.substr(flow.size() + 1)};
    }
  }
  return std::nullopt;
}

std::optional<StepRef> FlowTracker::StepOfChild(const json& child) const {
  if (workload_.system == System::kVolcano) {
    auto it = by_child_name_.find(kube::MetadataString(child, "name"));
    if (it == by_child_name_.end()) return std::nullopt;
    return it->second;
  }
  // weir's, the Batch's and raw's Jobs carry the same labels as their pods.
  return StepOfPod(child);
}

FlowTracker::StepState* FlowTracker::Find(const StepRef& ref) {
  auto flow = flows_.find(ref.flow);
  auto step = step_index_.find(ref.step);
  if (flow == flows_.end() || step == step_index_.end()) return nullptr;
  return &flow->second.steps[step->second];
}

void FlowTracker::EndFlow(FlowState& flow, bool succeeded, MonoTime at) {
  if (flow.terminal.has_value()) return;
  flow.terminal = at;
  flow.succeeded = succeeded;
  ++terminal_count_;
}

void FlowTracker::RecordStatus(FlowState& flow, const std::string& step, MonoTime at) {
  auto index = step_index_.find(step);
  if (index == step_index_.end()) return;
  std::optional<MonoTime>& seen = flow.steps[index->second].status_records;
  if (!seen.has_value()) seen = at;
}

void FlowTracker::ObservePod(const json& pod, MonoTime at) {
  std::optional<StepRef> ref = StepOfPod(pod);
  StepState* step = ref.has_value() ? Find(*ref) : nullptr;
  if (step == nullptr) return;
  if (workload_.system == System::kArgo && !step->child_seen.has_value()) step->child_seen = at;
  const std::string phase = StringAt(pod, {"status", "phase"});
  if (phase != "Succeeded" && phase != "Failed") return;
  std::string uid = kube::MetadataString(pod, "uid");
  if (!ended_pods_.insert(uid.empty() ? kube::MetadataString(pod, "name") : uid).second) return;
  if (!step->pod_ended.has_value() || *step->pod_ended < at) step->pod_ended = at;
}

void FlowTracker::ObserveChild(const json& child, MonoTime at) {
  std::optional<StepRef> ref = StepOfChild(child);
  StepState* step = ref.has_value() ? Find(*ref) : nullptr;
  if (step == nullptr) return;
  if (!step->child_seen.has_value()) step->child_seen = at;
  if (workload_.system != System::kRaw || step->job_complete) return;

  FlowState& flow = flows_[ref->flow];
  bool complete = false;
  bool failed = false;
  for (const json& condition : ArrayAt(child, {"status", "conditions"})) {
    if (StringAt(condition, {"status"}) != "True") continue;
    complete |= StringAt(condition, {"type"}) == "Complete";
    failed |= StringAt(condition, {"type"}) == "Failed";
  }
  if (failed) EndFlow(flow, false, at);
  if (!complete || flow.terminal.has_value()) return;
  step->job_complete = true;
  bool all_complete = true;
  for (size_t i = 0; i < workload_.steps.size(); ++i) {
    StepState& s = flow.steps[i];
    all_complete &= s.job_complete;
    if (s.due) continue;
    const std::vector<std::string>& deps = workload_.steps[i].depends_on;
    if (std::all_of(deps.begin(), deps.end(), [&](const std::string& dep) {
          return flow.steps[step_index_.at(dep)].job_complete;
        })) {
      s.due = true;
      due_.push_back({ref->flow, workload_.steps[i].name});
    }
  }
  if (all_complete) EndFlow(flow, true, at);
}

void FlowTracker::ObserveOwner(const json& owner, MonoTime at) {
  const std::string name = kube::MetadataString(owner, "name");
  auto it = flows_.find(name);
  if (it == flows_.end()) return;
  FlowState& flow = it->second;
  switch (workload_.system) {
    case System::kWeir: {
      for (const json& step : ArrayAt(owner, {"status", "steps"})) {
        const std::string phase = StringAt(step, {"phase"});
        if (IsWeirTerminal(phase) || phase == "Skipped") {
          RecordStatus(flow, StringAt(step, {"name"}), at);
        }
      }
      const std::string phase = StringAt(owner, {"status", "phase"});
      if (IsWeirTerminal(phase)) EndFlow(flow, phase == "Succeeded", at);
      break;
    }
    case System::kBatch: {
      const std::string phase = StringAt(owner, {"status", "phase"});
      if (!IsWeirTerminal(phase)) break;
      RecordStatus(flow, workload_.steps[0].name, at);
      EndFlow(flow, phase == "Succeeded", at);
      break;
    }
    case System::kVolcano: {
      // Its status lists the vcjobs (<flow>-<step>) by their phase.
      for (const char* list : {"completedJobs", "failedJobs", "terminatedJobs"}) {
        for (const json& job : ArrayAt(owner, {"status", list})) {
          const std::string job_name = job.is_string() ? job.get<std::string>() : "";
          if (absl::StartsWith(job_name, name + "-")) {
            RecordStatus(flow, job_name.substr(name.size() + 1), at);
          }
        }
      }
      const std::string phase = StringAt(owner, {"status", "state", "phase"});
      if (phase == "Succeed" || phase == "Failed") EndFlow(flow, phase == "Succeed", at);
      break;
    }
    case System::kArgo: {
      // status.nodes: node id -> {displayName: <task>, type, phase}.
      const json& nodes = JsonAt(owner, {"status", "nodes"});
      for (auto node = nodes.begin(); nodes.is_object() && node != nodes.end(); ++node) {
        const std::string phase = StringAt(*node, {"phase"});
        if (StringAt(*node, {"type"}) == "Pod" &&
            (phase == "Succeeded" || phase == "Failed" || phase == "Error")) {
          RecordStatus(flow, StringAt(*node, {"displayName"}), at);
        }
      }
      const std::string phase = StringAt(owner, {"status", "phase"});
      if (phase == "Succeeded" || phase == "Failed" || phase == "Error") {
        EndFlow(flow, phase == "Succeeded", at);
      }
      break;
    }
    case System::kRaw:
      break;
  }
}

std::vector<StepRef> FlowTracker::TakeDueSteps() { return std::exchange(due_, {}); }

Figures FlowTracker::Summarize(const std::vector<std::string>& flows, MonoTime t0) const {
  const auto seconds = [](MonoTime from, MonoTime to) {
    return std::chrono::duration<double>(to - from).count();
  };
  Figures figures;
  figures.flows = flows.size();
  figures.steps = flows.size() * workload_.steps.size();
  std::vector<double> flow_latencies, step_latencies, status_latencies;
  for (const std::string& name : flows) {
    auto it = flows_.find(name);
    if (it == flows_.end()) {
      figures.unfinished.push_back(name);  // never created
      continue;
    }
    const FlowState& flow = it->second;
    if (flow.terminal.has_value()) {
      (flow.succeeded ? figures.succeeded : figures.failed)++;
      figures.wall_s = std::max(figures.wall_s, seconds(t0, *flow.terminal));
      flow_latencies.push_back(seconds(flow.created, *flow.terminal));
    } else {
      figures.unfinished.push_back(name);
    }
    for (size_t i = 0; i < workload_.steps.size(); ++i) {
      const StepState& step = flow.steps[i];
      if (step.pod_ended.has_value() && step.status_records.has_value()) {
        status_latencies.push_back(seconds(*step.pod_ended, *step.status_records) * 1000);
      }
      const std::vector<std::string>& deps = workload_.steps[i].depends_on;
      if (deps.empty() || !step.child_seen.has_value()) continue;
      std::optional<MonoTime> last_dep_ended;
      for (const std::string& dep : deps) {
        const std::optional<MonoTime>& ended = flow.steps[step_index_.at(dep)].pod_ended;
        if (!ended.has_value()) {
          last_dep_ended.reset();
          break;
        }
        last_dep_ended = std::max(last_dep_ended.value_or(*ended), *ended);
      }
      if (last_dep_ended.has_value()) {
        step_latencies.push_back(seconds(*last_dep_ended, *step.child_seen) * 1000);
      }
    }
  }
  figures.step_latency_samples = step_latencies.size();
  figures.status_latency_samples = status_latencies.size();
  figures.flow_latency_p50_s = Percentile(flow_latencies, 50);
  figures.flow_latency_p99_s = Percentile(flow_latencies, 99);
  figures.step_latency_p50_ms = Percentile(step_latencies, 50);
  figures.step_latency_p99_ms = Percentile(step_latencies, 99);
  figures.status_latency_p50_ms = Percentile(status_latencies, 50);
  figures.status_latency_p99_ms = Percentile(status_latencies, 99);
  return figures;
}

}  // namespace weir::bench
