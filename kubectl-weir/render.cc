#include "kubectl-weir/render.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "api/batch.h"
#include "api/jobflow.h"
#include "api/meta.h"
#include "yaml-cpp/yaml.h"

namespace weir::cli {
namespace {

constexpr char kNone[] = "-";

// A table cell: what it says, and the same with colour (equal when off).
struct Cell {
  std::string plain;
  std::string styled;
};
Cell Plain(absl::string_view text) { return {std::string(text), std::string(text)}; }
Cell Styled(absl::string_view plain, std::string styled) { return {std::string(plain), styled}; }

// Rows aligned in columns two spaces apart; each row may carry lines printed
// under it as they are (outside the columns).
struct Table {
  std::vector<std::vector<Cell>> rows;
  std::vector<std::vector<std::string>> below;

  void Add(std::vector<Cell> row, std::vector<std::string> lines = {}) {
    rows.push_back(std::move(row));
    below.push_back(std::move(lines));
  }

  std::string Render() const {
    std::vector<size_t> width;
    for (const auto& row : rows) {
      if (width.size() < row.size()) width.resize(row.size(), 0);
      for (size_t i = 0; i < row.size(); ++i) {
        width[i] = std::max(width[i], VisibleWidth(row[i].plain));
      }
    }
    std::string out;
    for (size_t r = 0; r < rows.size(); ++r) {
      const auto& row = rows[r];
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        absl::StrAppend(&line, row[i].styled);
        if (i + 1 < row.size()) {
          line.append(width[i] - VisibleWidth(row[i].plain) + 2, ' ');
        }
      }
      absl::StrAppend(&out, line, "\n");
      for (const std::string& b : below[r]) absl::StrAppend(&out, b, "\n");
    }
    return out;
  }
};

std::string OrNone(absl::string_view s) { return s.empty() ? kNone : std::string(s); }

std::string ExitText(const std::optional<int32_t>& code) {
  return code.has_value() ? absl::StrCat(*code) : kNone;
}

// start -> end (or now while it runs).
std::string Span(const std::optional<absl::Time>& start, const std::optional<absl::Time>& end,
                 absl::Time now) {
  if (!start.has_value()) return kNone;
  return ShortDuration((end.has_value() ? *end : now) - *start);
}

std::string TimeLine(const std::optional<absl::Time>& t, absl::Time now) {
  if (!t.has_value()) return kNone;
  return absl::StrCat(api::FormatRfc3339(*t), " (", ShortDuration(now - *t), " ago)");
}

// Message lines, each one as its own line (a message may hold newlines).
std::vector<std::string> Lines(absl::string_view text) {
  std::vector<std::string> out;
  for (absl::string_view l : absl::StrSplit(text, '\n')) {
    l = absl::StripTrailingAsciiWhitespace(l);
    if (!l.empty()) out.emplace_back(l);
  }
  return out;
}

void Field(std::string& out, absl::string_view label, absl::string_view value, const Style& st) {
  absl::StrAppend(&out, st.Bold(absl::StrCat(label, ":")),
                  std::string(label.size() < 11 ? 11 - label.size() : 1, ' '), value, "\n");
}

// An owner's Started, Finished and Duration lines.
void Times(std::string& out, std::optional<absl::Time> start, std::optional<absl::Time> end,
           absl::Time now, const Style& st) {
  Field(out, "Started", TimeLine(start, now), st);
  if (end.has_value()) Field(out, "Finished", TimeLine(end, now), st);
  if (start.has_value()) Field(out, "Duration", Span(start, end, now), st);
}

// The first lines of an owner: its kind and name, namespace and phase.
void Heading(std::string& out, absl::string_view kind, const api::ObjectMeta& meta,
             absl::string_view phase, const Style& st) {
  Field(out, kind, meta.name, st);
  Field(out, "Namespace", meta.namespace_name, st);
  Field(out, "Phase", st.Phase(phase.empty() ? "Pending" : phase), st);
}

void MessageField(std::string& out, absl::string_view message, const Style& st) {
  std::vector<std::string> lines = Lines(message);
  if (lines.empty()) return;
  Field(out, "Message", lines[0], st);
  for (size_t i = 1; i < lines.size(); ++i)
    absl::StrAppend(&out, std::string(12, ' '), lines[i], "\n");
}

// Whether a dependency's condition holds on the phase of the step it names:
// true, false (and never will: that step has ended) or nullopt (not yet).
std::optional<bool> ConditionHolds(absl::string_view condition, absl::string_view phase) {
  if (!IsTerminalPhase(phase)) return std::nullopt;
  if (condition == "Succeeded") return phase == "Succeeded";
  if (condition == "Failed") return phase == "Failed" || phase == "Killed";
  if (condition == "Canceled") return phase == "Canceled";
  if (condition == "Completed") return true;
  return false;
}

std::string StepPhase(const api::StepStatus* s) {
  return s == nullptr || s->phase.empty() ? "Pending" : s->phase;
}

std::string DotQuote(absl::string_view s) {
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\\", "\\\\"}, {"\"", "\\\""}}), "\"");
}

const char* DotFill(absl::string_view phase) {
  if (phase == "Succeeded") return "#b7e1b0";
  if (phase == "Failed" || phase == "Killed") return "#f4b0a8";
  if (phase == "Running" || phase == "Retrying" || phase == "Canceling") return "#fbe3a0";
  if (phase == "Canceled") return "#e0c4ea";
  return "#e8e8e8";  // Pending, Skipped
}

// Strings a YAML reader could take for something else (a bool, null, a
// number, a YAML 1.1 timestamp or base-60 number): quoted. Every string that
// starts like a number is, which is more than needed ("64Mi") but never less.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  std::string lower = absl::AsciiStrToLower(s);
  for (const char* w : {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"}) {
    if (lower == w) return true;
  }
  const char c = s[0];
  return absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.';
}

void EmitYaml(YAML::Emitter& e, const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object:
      e << YAML::BeginMap;
      for (const auto& [key, value] : v.items()) {
        e << YAML::Key;
        if (NeedsQuotes(key)) {
          e << YAML::DoubleQuoted << key;
        } else {
          e << key;
        }
        e << YAML::Value;
        EmitYaml(e, value);
      }
      e << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      e << YAML::BeginSeq;
      for (const auto& item : v) EmitYaml(e, item);
      e << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      if (NeedsQuotes(s)) {
        e << YAML::DoubleQuoted << s;
      } else if (s.find('\n') != std::string::npos) {
        e << YAML::Literal << s;
      } else {
        e << s;
      }
      break;
    }
    case nlohmann::json::value_t::boolean:
      e << (v.get<bool>() ? "true" : "false");
      break;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      e << v.dump();
      break;
    default:
      e << YAML::Null;
      break;
  }
}

nlohmann::json WithoutManagedFields(nlohmann::json object) {
  if (object.is_object()) {
    auto it = object.find("metadata");
    if (it != object.end() && it->is_object()) it->erase("managedFields");
    auto items = object.find("items");
    if (items != object.end() && items->is_array()) {
      for (auto& item : *items) item = WithoutManagedFields(std::move(item));
    }
  }
  return object;
}

std::string Age(const api::ObjectMeta& m, absl::Time now) {
  return m.creation_timestamp.has_value() ? ShortDuration(now - *m.creation_timestamp) : kNone;
}

const nlohmann::json& Items(const nlohmann::json& list) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  if (!list.is_object()) return kEmpty;
  auto it = list.find("items");
  return it != list.end() && it->is_array() ? *it : kEmpty;
}

}  // namespace

bool IsTerminalPhase(absl::string_view phase) {
  return phase == "Succeeded" || phase == "Failed" || phase == "Killed" || phase == "Canceled" ||
         phase == "Skipped";
}

std::string ShortDuration(absl::Duration d) {
  int64_t s = absl::ToInt64Seconds(d);
  if (s < 0) s = 0;
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600)
    return s % 60 == 0 ? absl::StrCat(s / 60, "m") : absl::StrCat(s / 60, "m", s % 60, "s");
  if (s < 86400) {
    int64_t m = (s % 3600) / 60;
    return m == 0 ? absl::StrCat(s / 3600, "h") : absl::StrCat(s / 3600, "h", m, "m");
  }
  int64_t h = (s % 86400) / 3600;
  return h == 0 ? absl::StrCat(s / 86400, "d") : absl::StrCat(s / 86400, "d", h, "h");
}

std::string RenderFlow(const nlohmann::json& object, const RenderOptions& o) {
  const Style& st = o.style;
  const api::JobFlow flow = api::ParseJobFlow(object);
  const api::JobFlowStatus& status = flow.status;
  std::string out;
  Heading(out, "JobFlow", flow.metadata, status.phase, st);
  if (!status.progress.empty()) Field(out, "Steps", absl::StrCat(status.progress, " done"), st);
  Times(out, status.start_time, status.completion_time, o.now, st);
  if (flow.spec.ok()) {
    if (flow.spec->suspend) Field(out, "Suspended", "yes (spec.suspend: no new step starts)", st);
    if (flow.spec->cancel && !IsTerminalPhase(status.phase)) Field(out, "Cancel", "requested", st);
  } else {
    Field(out, "Spec", st.Red(absl::StrCat("invalid: ", flow.spec.status().message())), st);
  }
  MessageField(out, status.message, st);
  out.push_back('\n');

  // The steps: from the spec (with their dependencies), else from the status.
  struct Node {
    std::string name;
    std::vector<api::DependsOn> deps;
    bool cancel = false;
    std::vector<size_t> children;
    std::optional<size_t> parent;
  };
  std::vector<Node> nodes;
  std::map<std::string, size_t> index;
  if (flow.spec.ok()) {
    for (const api::FlowStep& s : flow.spec->steps) {
      if (index.count(s.name) > 0) continue;
      index[s.name] = nodes.size();
      nodes.push_back({s.name, s.depends_on, s.cancel, {}, std::nullopt});
    }
  }
  for (const api::StepStatus& s : status.steps) {
    if (index.count(s.name) > 0) continue;
    index[s.name] = nodes.size();
    nodes.push_back({s.name, {}, false, {}, std::nullopt});
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const api::DependsOn& d : nodes[i].deps) {
      auto it = index.find(d.step);
      if (it == index.end() || it->second == i) continue;
      nodes[i].parent = it->second;
      nodes[it->second].children.push_back(i);
      break;
    }
  }

  Table table;
  table.Add({Plain("STEP"), Plain("PHASE"), Plain("ATTEMPT"), Plain("REASON"), Plain("EXIT"),
             Plain("DURATION"), Plain("JOB")});
  std::vector<bool> drawn(nodes.size(), false);
  // lead: the ancestors' continuation; connector: this node's branch.
  auto draw = [&](auto&& self, size_t i, const std::string& lead, const std::string& connector,
                  const std::string& child_lead) -> void {
    drawn[i] = true;
    const Node& n = nodes[i];
    const api::StepStatus* s = api::FindStepStatus(status, n.name);
    const std::string step_phase = StepPhase(s);
    const api::AttemptStatus* a =
        s == nullptr || s->attempts.empty() ? nullptr : &s->attempts.back();
    std::vector<size_t> children;
    for (size_t c : n.children) {
      if (!drawn[c]) children.push_back(c);
    }
    // Lines under the row continue the tree's branch to the children.
    const std::string detail_lead = absl::StrCat(child_lead, children.empty() ? "   " : "│  ");
    std::vector<std::string> details;
    if (!n.deps.empty()) {
      std::vector<std::string> parts;
      for (const api::DependsOn& d : n.deps) {
        auto it = index.find(d.step);
        const std::string dep_phase =
            it == index.end() ? "" : StepPhase(api::FindStepStatus(status, d.step));
        std::optional<bool> holds = ConditionHolds(d.condition, dep_phase);
        std::string mark = !holds.has_value() ? "…" : *holds ? st.Green("✓") : st.Red("✗");
        parts.push_back(absl::StrCat(d.step, " ", d.condition, " ", mark));
      }
      details.push_back(absl::StrCat(detail_lead, st.Dim("needs "), absl::StrJoin(parts, ", ")));
    }
    // Earlier attempts, one line each: what ended them.
    for (size_t k = 0; s != nullptr && k + 1 < s->attempts.size(); ++k) {
      const api::AttemptStatus& e = s->attempts[k];
      std::string line = absl::StrCat("attempt ", e.attempt, ": ", e.phase.empty() ? "-" : e.phase);
      if (!e.termination_reason.empty()) absl::StrAppend(&line, " ", e.termination_reason);
      if (e.exit_code.has_value()) absl::StrAppend(&line, ", exit ", *e.exit_code);
      if (!e.memory_limit.empty()) absl::StrAppend(&line, ", memory ", e.memory_limit);
      details.push_back(absl::StrCat(detail_lead, st.Dim(line)));
    }
    if (n.cancel && !IsTerminalPhase(step_phase)) {
      details.push_back(absl::StrCat(detail_lead, "cancel requested"));
    }
    // A step that succeeded needs no words; any other says where it stands.
    std::string message = s == nullptr || step_phase == "Succeeded" ? "" : s->message;
    if (message.empty() && a != nullptr && step_phase != "Succeeded") message = a->message;
    std::vector<std::string> lines = Lines(message);
    for (size_t k = 0; k < lines.size(); ++k) {
      std::string label = k > 0 ? "" : step_phase == "Skipped" ? "skipped: " : "";
      details.push_back(absl::StrCat(detail_lead, label, lines[k]));
    }
    const std::string tree = absl::StrCat(lead, connector);
    table.Add({Styled(absl::StrCat(tree, n.name), absl::StrCat(st.Dim(tree), st.Bold(n.name))),
               Styled(step_phase, st.Phase(step_phase)),
               Plain(a == nullptr ? kNone : absl::StrCat(a->attempt)),
               Plain(a == nullptr ? kNone : OrNone(a->termination_reason)),
               Plain(a == nullptr ? kNone : ExitText(a->exit_code)),
               Plain(a == nullptr ? kNone : Span(a->start_time, a->completion_time, o.now)),
               Plain(a == nullptr ? kNone : OrNone(a->job))},
              std::move(details));
    for (size_t k = 0; k < children.size(); ++k) {
      const bool last = k + 1 == children.size();
      self(self, children[k], child_lead, last ? "└─ " : "├─ ",
           absl::StrCat(child_lead, last ? "   " : "│  "));
    }
  };
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!drawn[i] && !nodes[i].parent.has_value()) draw(draw, i, "", "", "");
  }
  // Steps on a cycle have no root above them: drawn from the first one.
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!drawn[i]) draw(draw, i, "", "", "");
  }
  if (nodes.empty()) {
    absl::StrAppend(&out, "(no steps)\n");
    return out;
  }
  absl::StrAppend(&out, table.Render());
  return out;
}

std::string RenderBatch(const nlohmann::json& object, const RenderOptions& o) {
  const Style& st = o.style;
  const api::Batch batch = api::ParseBatch(object);
  const api::BatchStatus& status = batch.status;
  std::string out;
  Heading(out, "Batch", batch.metadata, status.phase, st);
  if (!status.termination_reason.empty()) {
    Field(out, "Reason",
          absl::StrCat(
              status.termination_reason,
              status.exit_code.has_value() ? absl::StrCat(" (exit ", *status.exit_code, ")") : ""),
          st);
  }
  if (batch.spec.ok()) {
    Field(out, "Attempt",
          absl::StrCat(
              status.attempt > 0 ? absl::StrCat(status.attempt) : "-", " (retry limit ",
              batch.spec->retry.limit,
              batch.spec->retry.on_oom.has_value()
                  ? absl::StrCat(", on OOM up to ", batch.spec->retry.on_oom->max_memory.ToString())
                  : "",
              ")"),
          st);
    Field(out, "Template",
          batch.spec->template_name.empty() ? "(inline jobSpec)" : batch.spec->template_name, st);
    if (batch.spec->cancel && !IsTerminalPhase(status.phase)) Field(out, "Cancel", "requested", st);
  } else {
    Field(out, "Attempt", status.attempt > 0 ? absl::StrCat(status.attempt) : "-", st);
    Field(out, "Spec", st.Red(absl::StrCat("invalid: ", batch.spec.status().message())), st);
  }
  Times(out, status.start_time, status.completion_time, o.now, st);
  if (status.resources_released_time.has_value()) {
    Field(out, "Released", TimeLine(status.resources_released_time, o.now), st);
  }
  MessageField(out, status.message, st);
  out.push_back('\n');
  if (status.attempts.empty()) {
    absl::StrAppend(&out, "(no attempts yet)\n");
    return out;
  }
  Table table;
  table.Add({Plain("ATTEMPT"), Plain("PHASE"), Plain("REASON"), Plain("EXIT"), Plain("MEMORY"),
             Plain("DURATION"), Plain("JOB")});
  for (const api::AttemptStatus& a : status.attempts) {
    const std::string p = a.phase.empty() ? "Pending" : a.phase;
    std::vector<std::string> below;
    if (p != "Succeeded") {
      for (const std::string& l : Lines(a.message)) below.push_back(absl::StrCat("    ", l));
    }
    if (a.waiting_since.has_value()) {
      below.push_back(absl::StrCat("    waiting since ", api::FormatRfc3339(*a.waiting_since)));
    }
    table.Add({Plain(absl::StrCat(a.attempt)), Styled(p, st.Phase(p)),
               Plain(OrNone(a.termination_reason)), Plain(ExitText(a.exit_code)),
               Plain(OrNone(a.memory_limit)), Plain(Span(a.start_time, a.completion_time, o.now)),
               Plain(OrNone(a.job))},
              std::move(below));
  }
  absl::StrAppend(&out, table.Render());
  return out;
}

std::string RenderFlowDot(const nlohmann::json& object) {
  const api::JobFlow flow = api::ParseJobFlow(object);
  std::string out =
      absl::StrCat("digraph ", DotQuote(flow.metadata.name), " {\n", "  rankdir=LR;\n",
                   "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n",
                   "  edge [fontname=\"Helvetica\", fontsize=10];\n");
  std::vector<std::string> names;
  std::set<std::string> seen;
  if (flow.spec.ok()) {
    for (const api::FlowStep& s : flow.spec->steps) {
      if (seen.insert(s.name).second) names.push_back(s.name);
    }
  }
  for (const api::StepStatus& s : flow.status.steps) {
    if (seen.insert(s.name).second) names.push_back(s.name);
  }
  for (const std::string& name : names) {
    const api::StepStatus* s = api::FindStepStatus(flow.status, name);
    const std::string phase = StepPhase(s);
    std::string label = absl::StrCat(name, "\\n", phase);
    if (s != nullptr && !s->attempts.empty()) {
      const api::AttemptStatus& a = s->attempts.back();
      if (a.attempt > 1) absl::StrAppend(&label, " (attempt ", a.attempt, ")");
      if (!a.termination_reason.empty() && a.termination_reason != "Completed") {
        absl::StrAppend(&label, "\\n", a.termination_reason);
        if (a.exit_code.has_value()) absl::StrAppend(&label, " exit ", *a.exit_code);
      }
    }
    absl::StrAppend(&out, "  ", DotQuote(name), " [label=",
                    absl::StrCat("\"", absl::StrReplaceAll(label, {{"\"", "\\\""}}), "\""),
                    ", fillcolor=\"", DotFill(phase), "\"",
                    phase == "Skipped" ? ", style=\"rounded,filled,dashed\"" : "", "];\n");
  }
  if (flow.spec.ok()) {
    for (const api::FlowStep& s : flow.spec->steps) {
      for (const api::DependsOn& d : s.depends_on) {
        absl::StrAppend(&out, "  ", DotQuote(d.step), " -> ", DotQuote(s.name),
                        " [label=", DotQuote(d.condition),
                        d.condition == "Succeeded" ? "" : ", style=dashed", "];\n");
      }
    }
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

namespace {

// A list's header: NAMESPACE (with -A), NAME, PHASE, then `more`.
std::vector<Cell> ListHead(bool all_namespaces, std::initializer_list<const char*> more) {
  std::vector<Cell> head;
  if (all_namespaces) head.push_back(Plain("NAMESPACE"));
  head.push_back(Plain("NAME"));
  head.push_back(Plain("PHASE"));
  for (const char* h : more) head.push_back(Plain(h));
  return head;
}

// A list row's first cells, as ListHead names them (no phase yet: Pending).
std::vector<Cell> ListRowStart(bool all_namespaces, const api::ObjectMeta& meta,
                               const std::string& recorded_phase, const RenderOptions& o) {
  const std::string phase = recorded_phase.empty() ? "Pending" : recorded_phase;
  std::vector<Cell> row;
  if (all_namespaces) row.push_back(Plain(meta.namespace_name));
  row.push_back(Plain(meta.name));
  row.push_back(Styled(phase, o.style.Phase(phase)));
  return row;
}

}  // namespace

std::string RenderFlowList(const nlohmann::json& list, bool all_namespaces,
                           const RenderOptions& o) {
  const nlohmann::json& items = Items(list);
  if (items.empty()) return "";
  Table table;
  table.Add(ListHead(all_namespaces, {"STEPS", "AGE", "MESSAGE"}));
  for (const nlohmann::json& item : items) {
    const api::JobFlow f = api::ParseJobFlow(item);
    std::vector<Cell> row = ListRowStart(all_namespaces, f.metadata, f.status.phase, o);
    row.push_back(Plain(OrNone(f.status.progress)));
    row.push_back(Plain(Age(f.metadata, o.now)));
    std::vector<std::string> lines = Lines(f.status.message);
    row.push_back(Plain(lines.empty() ? "" : lines[0]));
    table.Add(std::move(row));
  }
  return table.Render();
}

std::string RenderBatchList(const nlohmann::json& list, bool all_namespaces,
                            const RenderOptions& o) {
  const nlohmann::json& items = Items(list);
  if (items.empty()) return "";
  Table table;
  table.Add(ListHead(all_namespaces, {"ATTEMPT", "REASON", "EXIT", "AGE"}));
  for (const nlohmann::json& item : items) {
    const api::Batch b = api::ParseBatch(item);
    std::vector<Cell> row = ListRowStart(all_namespaces, b.metadata, b.status.phase, o);
    row.push_back(Plain(b.status.attempt > 0 ? absl::StrCat(b.status.attempt) : kNone));
    row.push_back(Plain(OrNone(b.status.termination_reason)));
    row.push_back(Plain(ExitText(b.status.exit_code)));
    row.push_back(Plain(Age(b.metadata, o.now)));
    table.Add(std::move(row));
  }
  return table.Render();
}

std::string JsonText(const nlohmann::json& object) {
  return WithoutManagedFields(object).dump(4, ' ', false,
                                           nlohmann::json::error_handler_t::replace) +
         "\n";
}

std::string YamlText(const nlohmann::json& object) {
  YAML::Emitter e;
  e.SetIndent(2);
  e.SetSeqFormat(YAML::Block);
  EmitYaml(e, WithoutManagedFields(object));
  return std::string(e.c_str()) + "\n";
}

}  // namespace weir::cli
