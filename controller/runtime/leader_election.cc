#include "runtime/leader_election.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "kube/errors.h"
#include "runtime/store.h"

namespace weir::runtime {

using nlohmann::json;

absl::Status ValidateLeaderElectionConfig(const LeaderElectionConfig& c) {
  if (c.lease_namespace.empty() || c.lease_name.empty()) {
    return absl::InvalidArgumentError("leader election: lease namespace and name are required");
  }
  if (c.identity.empty()) {
    return absl::InvalidArgumentError("leader election: identity is required");
  }
  if (c.retry_period <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("leader election: retry period must be positive");
  }
  if (c.renew_deadline <= c.retry_period) {
    return absl::InvalidArgumentError(
        "leader election: renew deadline must be longer than the retry period");
  }
  if (c.lease_duration <= c.renew_deadline) {
    return absl::InvalidArgumentError(
        "leader election: lease duration must be longer than the renew deadline");
  }
  if (c.lease_duration < absl::Seconds(1)) {
    return absl::InvalidArgumentError("leader election: lease duration must be at least 1s");
  }
  return absl::OkStatus();
}

std::string FormatMicroTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<std::unique_ptr<LeaderElector>> LeaderElector::New(kube::Client* client,
                                                                  LeaderElectionConfig config) {
  if (absl::Status s = ValidateLeaderElectionConfig(config); !s.ok()) return s;
  return std::unique_ptr<LeaderElector>(new LeaderElector(client, std::move(config)));
}

LeaderElector::LeaderElector(kube::Client* client, LeaderElectionConfig config)
    : client_(client),
      config_(std::move(config)),
      clock_(config_.clock != nullptr ? config_.clock : &RealClock::Get()),
      leases_(kube::resources::Leases()) {}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::Start() {
  runner_ = std::thread([this] { Run(); });
  watchdog_ = std::thread([this] { Watchdog(); });
}

void LeaderElector::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  absl::MutexLock l(&join_mu_);
  if (runner_.joinable()) runner_.join();
  if (watchdog_.joinable()) watchdog_.join();
  // Not started (or the runner already released): nothing more to do.
}

bool LeaderElector::Stopping() const {
  absl::MutexLock l(&mu_);
  return stopping_;
}

bool LeaderElector::IsLeader() const {
  absl::MutexLock l(&mu_);
  return leading_;
}

std::string LeaderElector::Leader() const {
  absl::MutexLock l(&mu_);
  return leader_;
}

bool LeaderElector::Sleep(absl::Duration d) {
  absl::MutexLock l(&mu_);
  clock_->AwaitWithDeadline(mu_, absl::Condition(&stopping_), clock_->Now() + d);
  return !stopping_;
}

void LeaderElector::Observe(const json& lease, absl::Time now) {
  const std::string rv = ResourceVersionOf(lease);
  std::string holder;
  if (lease.contains("spec") && lease["spec"].is_object()) {
    const json& h = lease["spec"].value("holderIdentity", json());
    if (h.is_string()) holder = h.get<std::string>();
  }
  bool changed_holder = false;
  {
    absl::MutexLock l(&mu_);
    if (rv != observed_rv_) {
      observed_rv_ = rv;
      observed_time_ = now;
    }
    changed_holder = holder != leader_;
    leader_ = holder;
  }
  if (changed_holder) {
    config_.logger.Info("lease holder changed",
                        {{"lease", config_.lease_name}, {"holder", holder}});
    if (config_.on_new_leader) config_.on_new_leader(holder);
  }
}

LeaderElector::Attempt LeaderElector::TryAcquireOrRenew() {
  const absl::Time now = clock_->Now();
  const int64_t duration_s = absl::ToInt64Seconds(config_.lease_duration);
  absl::StatusOr<json> got = client_->Get(leases_, config_.lease_namespace, config_.lease_name);
  if (kube::IsNotFound(got.status())) {
    json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", config_.identity},
          {"leaseDurationSeconds", duration_s},
          {"acquireTime", FormatMicroTime(now)},
          {"renewTime", FormatMicroTime(now)},
          {"leaseTransitions", 0}}}};
    absl::StatusOr<json> created = client_->Create(leases_, config_.lease_namespace, lease);
    if (created.ok()) {
      Observe(*created, now);
      return Attempt::kHeld;
    }
    if (kube::IsAlreadyExists(created.status())) return Attempt::kConflict;
    config_.logger.Warning("creating lease failed", {{"error", created.status()}});
    return Attempt::kError;
  }
  if (!got.ok()) {
    config_.logger.Warning("reading lease failed", {{"error", got.status()}});
    return Attempt::kError;
  }
  json lease = *std::move(got);
  Observe(lease, now);
  json spec = lease.contains("spec") && lease["spec"].is_object() ? lease["spec"] : json::object();
  const json& h = spec.value("holderIdentity", json());
  const std::string holder = h.is_string() ? h.get<std::string>() : "";
  if (!holder.empty() && holder != config_.identity) {
    int64_t held_s = 0;
    if (spec.contains("leaseDurationSeconds") && spec["leaseDurationSeconds"].is_number_integer()) {
      held_s = spec["leaseDurationSeconds"].get<int64_t>();
    }
    const absl::Duration held = held_s > 0 ? absl::Seconds(held_s) : config_.lease_duration;
    absl::MutexLock l(&mu_);
    if (now < observed_time_ + held) return Attempt::kHeldByOther;
  }
  const bool ours = holder == config_.identity;
  int64_t transitions = 0;
  if (spec.contains("leaseTransitions") && spec["leaseTransitions"].is_number_integer()) {
    transitions = spec["leaseTransitions"].get<int64_t>();
  }
  spec["holderIdentity"] = config_.identity;
  spec["leaseDurationSeconds"] = duration_s;
  spec["renewTime"] = FormatMicroTime(now);
  if (!ours || !spec.contains("acquireTime")) spec["acquireTime"] = FormatMicroTime(now);
  spec["leaseTransitions"] = ours ? transitions : transitions + 1;
  lease["spec"] = std::move(spec);
  // lease still carries the resourceVersion read: a concurrent write wins.
  absl::StatusOr<json> updated = client_->Update(leases_, config_.lease_namespace, lease);
  if (updated.ok()) {
    Observe(*updated, now);
    return Attempt::kHeld;
  }
  if (kube::IsConflict(updated.status())) return Attempt::kConflict;
  config_.logger.Warning("updating lease failed", {{"error", updated.status()}});
  return Attempt::kError;
}

absl::Status LeaderElector::Release() {
  absl::StatusOr<json> got = client_->Get(leases_, config_.lease_namespace, config_.lease_name);
  if (!got.ok()) return got.status();
  json lease = *std::move(got);
  if (!lease.contains("spec") ||
      lease["spec"].value("holderIdentity", json()) != config_.identity) {
    return absl::OkStatus();  // not ours
  }
  const absl::Time now = clock_->Now();
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = FormatMicroTime(now);
  lease["spec"]["acquireTime"] = FormatMicroTime(now);
  absl::StatusOr<json> updated = client_->Update(leases_, config_.lease_namespace, lease);
  if (!updated.ok()) return updated.status();
  Observe(*updated, now);
  return absl::OkStatus();
}

void LeaderElector::BecomeLeader(absl::Time renewed) {
  absl::MutexLock cb(&cb_mu_);
  {
    absl::MutexLock l(&mu_);
    if (stopping_ || leading_) return;
    leading_ = true;
    last_renew_ = renewed;
  }
  config_.logger.Info("started leading",
                      {{"lease", config_.lease_name}, {"identity", config_.identity}});
  if (config_.on_started_leading) config_.on_started_leading();
}

void LeaderElector::LoseLeadership(absl::string_view why) {
  absl::MutexLock cb(&cb_mu_);
  {
    absl::MutexLock l(&mu_);
    if (!leading_) return;
    leading_ = false;
  }
  config_.logger.Warning(
      "stopped leading",
      {{"lease", config_.lease_name}, {"identity", config_.identity}, {"why", std::string(why)}});
  if (config_.on_stopped_leading) config_.on_stopped_leading();
}

void LeaderElector::Run() {
  while (!Stopping()) {
    if (!IsLeader()) {
      const absl::Time now = clock_->Now();
      if (TryAcquireOrRenew() == Attempt::kHeld) {
        BecomeLeader(now);
        continue;
      }
      if (!Sleep(config_.retry_period * (1 + absl::Uniform(rng_, 0.0, 0.2)))) break;
      continue;
    }
    if (!Sleep(config_.retry_period)) break;
    const absl::Time now = clock_->Now();
    Attempt a = TryAcquireOrRenew();
    if (a == Attempt::kConflict) a = TryAcquireOrRenew();  // re-read once: who won?
    switch (a) {
      case Attempt::kHeld: {
        absl::MutexLock l(&mu_);
        if (leading_) last_renew_ = now;
        break;
      }
      case Attempt::kHeldByOther:
        LoseLeadership("another holder took the lease");
        break;
      case Attempt::kConflict:
      case Attempt::kError: {
        bool expired;
        {
          absl::MutexLock l(&mu_);
          expired = clock_->Now() >= last_renew_ + config_.renew_deadline;
        }
        if (expired) LoseLeadership("renew deadline passed");
        break;
      }
    }
  }
  // Stopping: stop reconciling first, then let another replica take over.
  const bool was_leading = IsLeader();
  LoseLeadership("shutting down");
  if (was_leading && config_.release_on_stop) {
    if (absl::Status s = Release(); !s.ok()) {
      config_.logger.Warning("releasing lease failed", {{"error", s}});
    }
  }
}

void LeaderElector::Watchdog() {
  absl::MutexLock l(&mu_);
  while (!stopping_) {
    if (!leading_) {
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return leading_ || stopping_; };
      mu_.Await(absl::Condition(&wake));
      continue;
    }
    const absl::Time seen = last_renew_;
    const absl::Time deadline = seen + config_.renew_deadline;
    auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || !leading_ || last_renew_ != seen;
    };
    clock_->AwaitWithDeadline(mu_, absl::Condition(&changed), deadline);
    if (stopping_ || !leading_ || last_renew_ != seen) continue;
    if (clock_->Now() < deadline) continue;
    mu_.Unlock();
    LoseLeadership("renew deadline passed (watchdog)");
    mu_.Lock();
  }
}

}  // namespace weir::runtime
