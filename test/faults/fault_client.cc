#include "test/faults/fault_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kube/errors.h"

namespace weir::faults {
namespace {

// Events and Leases are written on timers, not by reconciles: counting them
// would make the write sequence depend on timing.
bool IsStateWrite(const kube::ResourceRef& ref) {
  return ref.resource != "events" && ref.resource != "leases";
}

std::string KeyOf(const nlohmann::json& object) {
  return absl::StrCat(kube::MetadataString(object, "namespace"), "/",
                      kube::MetadataString(object, "name"));
}

void ExitNow(int code) { std::_Exit(code); }

}  // namespace

absl::StatusOr<FaultPlan> ParseFaultPlan(absl::string_view spec) {
  FaultPlan plan;
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    const absl::string_view key = kv.first;
    const absl::string_view value = kv.second;
    auto bad = [&](absl::string_view want) {
      return absl::InvalidArgumentError(absl::StrCat("--faults: ", key, "=", value, ": ", want));
    };
    if (key == "seed") {
      if (!absl::SimpleAtoi(value, &plan.seed)) return bad("must be an unsigned integer");
    } else if (key == "crash-after-write") {
      if (!absl::SimpleAtoi(value, &plan.crash_after_write) || plan.crash_after_write < 0) {
        return bad("must be a count >= 0");
      }
    } else if (key == "error-rate" || key == "watch-coalesce") {
      double p = 0;
      if (!absl::SimpleAtod(value, &p) || p < 0 || p > 1) return bad("must be in [0, 1]");
      (key == "error-rate" ? plan.error_rate : plan.watch_coalesce) = p;
    } else if (key == "watch-delay") {
      if (!absl::ParseDuration(value, &plan.watch_delay) ||
          plan.watch_delay < absl::ZeroDuration()) {
        return bad("must be a duration like 300ms");
      }
    } else if (key == "watch-end-after") {
      if (!absl::SimpleAtoi(value, &plan.watch_end_after) || plan.watch_end_after < 0) {
        return bad("must be a count >= 0");
      }
    } else if (key == "stale-list-version") {
      plan.stale_list_version = std::string(value);
    } else if (key == "write-log") {
      plan.write_log = std::string(value);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--faults: unknown key '", key,
          "' (one of seed, crash-after-write, error-rate, watch-delay, watch-coalesce, "
          "watch-end-after, stale-list-version, write-log)"));
    }
  }
  return plan;
}

// A watch whose events go through a reader thread into a queue, where each
// waits out its random delay (in order) and may be coalesced into a newer one
// for the same key.
class FaultyWatchStream : public kube::WatchStream {
 public:
  FaultyWatchStream(FaultyClient* client, std::unique_ptr<kube::WatchStream> inner)
      : client_(client), inner_(std::move(inner)) {
    if (client_->plan_.watch_end_after > 0) {
      end_after_ = client_->UniformInt(1, client_->plan_.watch_end_after);
    }
    reader_ = std::thread([this] { Read(); });
  }
  ~FaultyWatchStream() override {
    Cancel();
    reader_.join();
  }

  bool Next(kube::WatchEvent* event) override {
    absl::MutexLock lock(&mu_);
    while (true) {
      if (canceled_) return false;
      if (!queue_.empty()) {
        const absl::Time due = queue_.front().due;
        const absl::Time now = absl::Now();
        if (now >= due) {
          *event = std::move(queue_.front().event);
          queue_.pop_front();
          return true;
        }
        mu_.AwaitWithDeadline(absl::Condition(&canceled_), due);
        continue;
      }
      if (ended_) return false;
      mu_.Await(absl::Condition(
          +[](FaultyWatchStream* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
            return s->canceled_ || s->ended_ || !s->queue_.empty();
          },
          this));
    }
  }

  absl::Status status() const override {
    absl::MutexLock lock(&mu_);
    if (!ended_ && !canceled_) return absl::OkStatus();
    return status_;
  }

  void Cancel() override {
    {
      absl::MutexLock lock(&mu_);
      if (canceled_) return;
      canceled_ = true;
      status_ = absl::CancelledError("watch canceled");
    }
    inner_->Cancel();
  }

 private:
  struct Held {
    kube::WatchEvent event;
    absl::Time due;
  };

  void Read() {
    kube::WatchEvent event;
    int seen = 0;
    while (inner_->Next(&event)) {
      if (end_after_ > 0 && ++seen > end_after_) {
        // The server ends the watch: cleanly (the informer watches again
        // from its last version) or with 410 Gone (it lists again).
        const bool gone = client_->Uniform() < 0.5;
        absl::MutexLock lock(&mu_);
        if (gone) {
          kube::WatchEvent expired;
          expired.type = kube::EventType::kError;
          expired.error = kube::NewGone("fault injection: the watch's resourceVersion is too old");
          expired.object = {
              {"kind", "Status"},    {"apiVersion", "v1"},
              {"status", "Failure"}, {"reason", "Expired"},
              {"code", 410},         {"message", std::string(expired.error.message())}};
          Push(std::move(expired));
        }
        End(absl::OkStatus());
        inner_->Cancel();
        return;
      }
      absl::MutexLock lock(&mu_);
      if (event.type == kube::EventType::kModified || event.type == kube::EventType::kDeleted) {
        Coalesce(event);
      }
      Push(std::move(event));
    }
    absl::MutexLock lock(&mu_);
    End(inner_->status());
  }

  // Drops a held event for the same key that `newer` supersedes.
  void Coalesce(kube::WatchEvent& newer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (client_->plan_.watch_coalesce <= 0) return;
    const std::string key = KeyOf(newer.object);
    const absl::Time now = absl::Now();
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->due <= now || KeyOf(it->event.object) != key) continue;
      if (it->event.type != kube::EventType::kAdded &&
          it->event.type != kube::EventType::kModified) {
        continue;
      }
      if (client_->Uniform() >= client_->plan_.watch_coalesce) return;
      // An ADDED coalesced with a MODIFIED is still an ADDED (the informer
      // never saw the object); with a DELETED, the object came and went.
      if (it->event.type == kube::EventType::kAdded && newer.type == kube::EventType::kModified) {
        newer.type = kube::EventType::kAdded;
      }
      queue_.erase(it);
      return;
    }
  }

  void Push(kube::WatchEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::Time due = absl::Now() + client_->UniformDuration(client_->plan_.watch_delay);
    if (!queue_.empty()) due = std::max(due, queue_.back().due);  // keep the order
    queue_.push_back({std::move(event), due});
  }

  void End(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (ended_) return;
    ended_ = true;
    if (!canceled_) status_ = std::move(status);
  }

  FaultyClient* const client_;
  const std::unique_ptr<kube::WatchStream> inner_;
  int end_after_ = 0;
  mutable absl::Mutex mu_;
  std::deque<Held> queue_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool canceled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
};

FaultyClient::FaultyClient(kube::Client* inner, FaultPlan plan, ExitFn exit)
    : inner_(inner), plan_(std::move(plan)), exit_(exit != nullptr ? exit : &ExitNow) {
  absl::MutexLock lock(&mu_);
  rng_.seed(plan_.seed);
}

double FaultyClient::Uniform() {
  absl::MutexLock lock(&mu_);
  return std::uniform_real_distribution<double>(0, 1)(rng_);
}

absl::Duration FaultyClient::UniformDuration(absl::Duration max) {
  if (max <= absl::ZeroDuration()) return absl::ZeroDuration();
  return max * Uniform();
}

int FaultyClient::UniformInt(int lo, int hi) {
  absl::MutexLock lock(&mu_);
  return std::uniform_int_distribution<int>(lo, hi)(rng_);
}

FaultyClient::Injected FaultyClient::Draw(bool write) {
  if (plan_.error_rate <= 0 || Uniform() >= plan_.error_rate) return Injected::kNone;
  switch (UniformInt(0, write ? 3 : 2)) {
    case 0:
      return Injected::kTooManyRequests;
    case 1:
      return Injected::kServerError;
    case 2:
      return Injected::kTimeout;
    default:
      return Injected::kConflict;
  }
}

absl::Status FaultyClient::ErrorOf(Injected kind, absl::string_view what) {
  const std::string message = absl::StrCat("fault injection: ", what);
  switch (kind) {
    case Injected::kConflict:
      return kube::MakeStatus(kube::Reason::kConflict, message, 409);
    case Injected::kTooManyRequests:
      return kube::NewTooManyRequests(message, absl::Seconds(1));
    case Injected::kServerError:
      return kube::MakeStatus(kube::Reason::kInternalError, message, 500);
    case Injected::kTimeout:
    case Injected::kNone:
      break;
  }
  return kube::NewTimeout(message);
}

absl::StatusOr<nlohmann::json> FaultyClient::Get(const kube::ResourceRef& ref, absl::string_view ns,
                                                 absl::string_view name,
                                                 const kube::GetOptions& options) {
  if (Injected kind = Draw(false); kind != Injected::kNone) {
    return ErrorOf(kind, absl::StrCat("get ", ref.ToString(), " ", ns, "/", name));
  }
  return inner_->Get(ref, ns, name, options);
}

absl::StatusOr<nlohmann::json> FaultyClient::List(const kube::ResourceRef& ref,
                                                  absl::string_view ns,
                                                  const kube::ListOptions& options) {
  if (Injected kind = Draw(false); kind != Injected::kNone) {
    return ErrorOf(kind, absl::StrCat("list ", ref.ToString()));
  }
  if (!plan_.stale_list_version.empty() && options.resource_version.empty() &&
      options.continue_token.empty()) {
    bool first = false;
    {
      absl::MutexLock lock(&mu_);
      first = listed_.insert(ref.ToString()).second;
    }
    if (first) {
      kube::ListOptions stale = options;
      stale.resource_version = plan_.stale_list_version;
      stale.resource_version_match = "Exact";
      absl::StatusOr<nlohmann::json> old = inner_->List(ref, ns, stale);
      // A compacted version is too old to read: the list is a current one.
      if (old.ok() || !(kube::IsGone(old.status()) || kube::IsExpired(old.status()))) return old;
    }
  }
  return inner_->List(ref, ns, options);
}

absl::StatusOr<nlohmann::json> FaultyClient::Write(
    absl::string_view verb, const kube::ResourceRef& ref, absl::string_view ns,
    absl::string_view name, const std::function<absl::StatusOr<nlohmann::json>()>& apply) {
  const std::string what = absl::StrCat(verb, " ", ref.ToString(), " ", ns, "/", name);
  const Injected kind = Draw(true);
  // A conflict or a 429 is refused before anything happens; a 500 or a
  // timeout may come after the write was applied.
  const bool refused =
      kind == Injected::kConflict || kind == Injected::kTooManyRequests ||
      ((kind == Injected::kServerError || kind == Injected::kTimeout) && Uniform() < 0.5);
  if (refused) return ErrorOf(kind, what);
  absl::StatusOr<nlohmann::json> result = apply();
  if (IsStateWrite(ref) && result.ok()) {
    absl::MutexLock lock(&log_mu_);
    const int n = ++writes_;
    LogWrite(n, verb, ref, ns, name, result.status());
    if (n == plan_.crash_after_write) exit_(86);
  }
  if (kind != Injected::kNone) return ErrorOf(kind, what);
  return result;
}

void FaultyClient::LogWrite(int n, absl::string_view verb, const kube::ResourceRef& ref,
                            absl::string_view ns, absl::string_view name,
                            const absl::Status& result) {
  if (plan_.write_log.empty()) return;
  const std::string line = absl::StrCat(n, " ", verb, " ", ref.ToString(), " ", ns, "/", name, " ",
                                        result.ok() ? "OK" : result.ToString(), "\n");
  const int fd = open(plan_.write_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ssize_t unused = write(fd, line.data(), line.size());
  (void)unused;
  close(fd);
}

absl::StatusOr<nlohmann::json> FaultyClient::Create(const kube::ResourceRef& ref,
                                                    absl::string_view ns,
                                                    const nlohmann::json& object,
                                                    const kube::CreateOptions& options) {
  const std::string name = !options.subresource_of.empty()
                               ? absl::StrCat(options.subresource_of, "/", options.subresource)
                               : kube::MetadataString(object, "name");
  return Write("create", ref, ns, name, [&] { return inner_->Create(ref, ns, object, options); });
}

absl::StatusOr<nlohmann::json> FaultyClient::Update(const kube::ResourceRef& ref,
                                                    absl::string_view ns,
                                                    const nlohmann::json& object,
                                                    const kube::UpdateOptions& options) {
  const std::string verb = options.subresource.empty() ? "update" : "update/" + options.subresource;
  return Write(verb, ref, ns, kube::MetadataString(object, "name"),
               [&] { return inner_->Update(ref, ns, object, options); });
}

absl::StatusOr<nlohmann::json> FaultyClient::Patch(const kube::ResourceRef& ref,
                                                   absl::string_view ns, absl::string_view name,
                                                   kube::PatchType type,
                                                   const nlohmann::json& patch,
                                                   const kube::PatchOptions& options) {
  const std::string verb = options.subresource.empty() ? "patch" : "patch/" + options.subresource;
  return Write(verb, ref, ns, name,
               [&] { return inner_->Patch(ref, ns, name, type, patch, options); });
}

absl::StatusOr<nlohmann::json> FaultyClient::Delete(const kube::ResourceRef& ref,
                                                    absl::string_view ns, absl::string_view name,
                                                    const kube::DeleteOptions& options) {
  return Write("delete", ref, ns, name, [&] { return inner_->Delete(ref, ns, name, options); });
}

absl::StatusOr<std::unique_ptr<kube::WatchStream>> FaultyClient::Watch(
    const kube::ResourceRef& ref, absl::string_view ns, const kube::WatchOptions& options) {
  if (Injected kind = Draw(false); kind != Injected::kNone) {
    return ErrorOf(kind, absl::StrCat("watch ", ref.ToString()));
  }
  absl::StatusOr<std::unique_ptr<kube::WatchStream>> inner = inner_->Watch(ref, ns, options);
  if (!inner.ok()) return inner.status();
  return std::unique_ptr<kube::WatchStream>(new FaultyWatchStream(this, *std::move(inner)));
}

}  // namespace weir::faults
