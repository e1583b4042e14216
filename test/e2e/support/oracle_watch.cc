#include "test/e2e/support/oracle_watch.h"

#include <cstdio>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace weir::e2e {
namespace {

using nlohmann::json;
using oracle::Kind;

// The collection path of `kind` in `ns`.
std::string Path(Kind kind, const std::string& ns) {
  switch (kind) {
    case Kind::kBatch:
      return absl::StrCat("/apis/weir.dev/v1alpha1/namespaces/", ns, "/batches");
    case Kind::kJobFlow:
      return absl::StrCat("/apis/weir.dev/v1alpha1/namespaces/", ns, "/jobflows");
    case Kind::kJob:
      return absl::StrCat("/apis/batch/v1/namespaces/", ns, "/jobs");
    case Kind::kPod:
      return absl::StrCat("/api/v1/namespaces/", ns, "/pods");
  }
  return "";
}

// Resumptions of one watch before its end is reported as a hole: 30 s of
// watches ending at once (a fresh API server's watch cache catching up, seen
// in the ASan run on a control plane just started, needed more than 20).
constexpr int kMaxResumes = 300;

bool IsOwner(Kind kind) { return kind == Kind::kBatch || kind == Kind::kJobFlow; }

// Parses a watch stream (the API server writes one JSON event per line) into
// `history` (when not null). Returns the uids of the objects it names.
absl::StatusOr<std::set<std::string>> Feed(Kind kind, const std::string& stream,
                                           oracle::History* history) {
  std::set<std::string> uids;
  for (absl::string_view line : absl::StrSplit(stream, '\n', absl::SkipWhitespace())) {
    const json event = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!event.is_object()) {
      return absl::DataLossError(absl::StrCat(
          "a ", oracle::KindName(kind), " watch printed something that is not an event: ", line));
    }
    if (history != nullptr) {
      absl::Status added = history->Add(kind, event);
      if (!added.ok()) return added;
    }
    uids.insert(event.value(json::json_pointer("/object/metadata/uid"), std::string()));
  }
  return uids;
}

// The watch URL of collection `path` from resourceVersion `rv`.
std::vector<std::string> WatchArgs(const std::string& path, const std::string& rv) {
  return {"get", "--raw",
          absl::StrCat(path, "?watch=1&allowWatchBookmarks=false&resourceVersion=", rv)};
}

// The last line of a watch's output ("" if none).
std::string LastLine(const std::string& out) {
  const size_t end = out.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  const size_t start = out.rfind('\n', end);
  const size_t from = start == std::string::npos ? 0 : start + 1;
  return out.substr(from, end + 1 - from);
}

// The output of a watch that ended by itself, less a last ERROR event that
// only says the watch cache has not caught up with the resourceVersion asked
// for yet (504, "Too large resource version"): nothing was missed, and the
// watch resumes from the same version. Any other ERROR (410 Gone: events
// lost) stays, and Feed reports it.
std::string WithoutCatchUpError(std::string out) {
  const std::string last = LastLine(out);
  const json event = json::parse(last, nullptr, /*allow_exceptions=*/false);
  if (event.is_object() && event.value("type", "") == "ERROR" &&
      event.value(json::json_pointer("/object/code"), 0) == 504) {
    out.erase(out.rfind(last));
  }
  return out;
}

// The resourceVersion of the last event in a watch's output ("" if none).
std::string LastResourceVersion(const std::string& output) {
  std::vector<absl::string_view> lines = absl::StrSplit(output, '\n', absl::SkipWhitespace());
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    const json event = json::parse(*it, nullptr, /*allow_exceptions=*/false);
    const std::string rv =
        event.is_object()
            ? event.value(json::json_pointer("/object/metadata/resourceVersion"), std::string())
            : "";
    if (!rv.empty()) return rv;
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<OracleWatch>> OracleWatch::Start(const Kubectl& kubectl,
                                                                const std::string& ns) {
  // A list's resourceVersion is the store's latest: every change after it
  // reaches a watch started from it.
  absl::StatusOr<std::string> list =
      kubectl.Run({"get", "--raw", Path(Kind::kPod, ns) + "?limit=1"});
  if (!list.ok()) return list.status();
  const json parsed = json::parse(*list, nullptr, /*allow_exceptions=*/false);
  const json* metadata =
      parsed.is_object() && parsed.contains("metadata") ? &parsed["metadata"] : nullptr;
  const std::string rv =
      metadata != nullptr && metadata->is_object() ? metadata->value("resourceVersion", "") : "";
  if (rv.empty()) return absl::InternalError("the pod list has no resourceVersion");
  std::vector<Stream> streams;
  for (Kind kind : {Kind::kBatch, Kind::kJobFlow, Kind::kJob, Kind::kPod}) {
    absl::StatusOr<std::unique_ptr<BackgroundKubectl>> watch =
        kubectl.Background(WatchArgs(Path(kind, ns), rv));
    if (!watch.ok()) return watch.status();
    streams.push_back({kind, Path(kind, ns), *std::move(watch), "", 0});
  }
  return std::unique_ptr<OracleWatch>(new OracleWatch(kubectl, rv, std::move(streams)));
}

OracleWatch::OracleWatch(Kubectl kubectl, std::string from, std::vector<Stream> streams)
    : kubectl_(std::move(kubectl)), from_(std::move(from)), streams_(std::move(streams)) {
  tender_ = std::thread([this] { Tend(); });
}

OracleWatch::~OracleWatch() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (tender_.joinable()) tender_.join();
}

void OracleWatch::Tend() {
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Milliseconds(100))) {
    for (Stream& s : streams_) {
      // A watch that keeps ending (its CRD replaced under it) is left ended:
      // Finish reports it.
      if (s.resumed >= kMaxResumes || !s.watch->EndedCleanly()) continue;
      const std::string out = WithoutCatchUpError(s.watch->OutputSoFar());
      // Ended by an ERROR (410 Gone: events lost): left ended, Finish reports it.
      if (LastLine(out).find("\"type\":\"ERROR\"") != std::string::npos) continue;
      std::string rv = LastResourceVersion(out);
      if (rv.empty()) rv = LastResourceVersion(s.ended);
      if (rv.empty()) rv = from_;
      absl::StatusOr<std::unique_ptr<BackgroundKubectl>> next =
          kubectl_.Background(WatchArgs(s.path, rv));
      if (!next.ok()) {
        resume_error_.Update(next.status());
        continue;  // Finish reports the ended watch
      }
      s.ended += out;
      s.watch = *std::move(next);
      ++s.resumed;
    }
  }
}

std::vector<size_t> OracleWatch::OwnerOutputSizes() const {
  absl::MutexLock lock(&mu_);
  std::vector<size_t> sizes;
  for (const Stream& s : streams_) {
    if (IsOwner(s.kind)) sizes.push_back(s.ended.size() + s.watch->OutputSoFar().size());
  }
  return sizes;
}

absl::StatusOr<oracle::History> OracleWatch::Finish(absl::Duration quiet, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<size_t> sizes = OwnerOutputSizes();
  absl::Time last_write = absl::Now();
  std::vector<size_t> at_last_write = sizes;  // sizes before the latest write seen
  while (absl::Now() - last_write < quiet && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(250));
    std::vector<size_t> now = OwnerOutputSizes();
    if (now != sizes) {
      at_last_write = sizes;
      sizes = std::move(now);
      last_write = absl::Now();
    }
  }
  const bool went_quiet = absl::Now() - last_write >= quiet;

  absl::MutexLock lock(&mu_);
  stop_ = true;  // Tend returns once it holds the lock again
  oracle::History history;
  std::set<std::string> still_written;
  size_t owner_stream = 0;
  for (Stream& s : streams_) {
    const std::string printed = LastLine(s.watch->OutputSoFar());
    absl::StatusOr<std::string> last = s.watch->Stop();
    if (!last.ok()) {
      return absl::DataLossError(absl::StrCat(
          "the ", oracle::KindName(s.kind), " watch failed: ", last.status().message(),
          "; its last line: ", printed.substr(0, 400),
          resume_error_.ok() ? "" : absl::StrCat(" (resuming it: ", resume_error_.message(), ")")));
    }
    if (s.resumed > 0) {
      std::printf("oracle: the %s watch was resumed %d time(s)\n", oracle::KindName(s.kind),
                  s.resumed);
    }
    const std::string out = s.ended + *last;
    absl::StatusOr<std::set<std::string>> uids = Feed(s.kind, out, &history);
    if (!uids.ok()) return uids.status();
    if (IsOwner(s.kind) && !went_quiet) {
      absl::StatusOr<std::set<std::string>> recent =
          Feed(s.kind, out.substr(std::min(at_last_write[owner_stream], out.size())), nullptr);
      if (recent.ok()) still_written.insert(recent->begin(), recent->end());
    }
    owner_stream += IsOwner(s.kind);
  }
  if (!went_quiet) {
    history.AddViolation({4,
                          absl::StrCat("the controller never stopped writing: no quiet ",
                                       absl::FormatDuration(quiet), " within ",
                                       absl::FormatDuration(timeout), " after the end"),
                          {still_written.begin(), still_written.end()}});
  }
  return history;
}

oracle::Stats FinishAndJudge(std::unique_ptr<OracleWatch> watch) {
  absl::StatusOr<oracle::History> history = watch->Finish(absl::Seconds(4), absl::Seconds(60));
  if (!history.ok()) {
    ADD_FAILURE() << "the oracle's watch: " << history.status();
    return {};
  }
  const oracle::Verdict verdict = history->Judge();
  const std::vector<oracle::Violation>& violations = verdict.violations;
  const oracle::Stats& stats = verdict.stats;
  std::printf(
      "oracle: %d owners, %d Jobs, %d pods, %d Jobs in the cancel window, %d pods created for a "
      "deleted Job (job controller), %zu violations\n",
      stats.owners, stats.jobs, stats.pods, stats.jobs_in_cancel_window,
      stats.pods_for_deleted_jobs, violations.size());
  for (size_t i = 0; i < violations.size(); ++i) {
    ADD_FAILURE() << "oracle violation " << i + 1 << " of " << violations.size() << ", "
                  << history->Describe(violations[i]);
  }
  return stats;
}

}  // namespace weir::e2e
