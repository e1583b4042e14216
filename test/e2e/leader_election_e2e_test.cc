// Leader election (runtime/leader_election.h) against the real API server:
// of two candidates exactly one leads; a released lease is taken over at
// once; and when a leader PROCESS is killed with SIGKILL (no release), the
// other takes over within the lease duration (plus one retry period).
//
// Needs KUBECONFIG from `eval "$(hack/cluster.sh env)"`.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "kube/config.h"
#include "kube/errors.h"
#include "kube/http_client.h"
#include "runtime/leader_election.h"
#include "test/e2e/support/eventually.h"
#include "test/e2e/support/rest_config.h"

namespace weir::e2e {
namespace {

using nlohmann::json;
using runtime::LeaderElectionConfig;
using runtime::LeaderElector;

absl::StatusOr<std::unique_ptr<kube::HttpClient>> ClientFromEnv() {
  absl::StatusOr<kube::RestConfig> config = e2e::RestConfigFromEnv();
  if (!config.ok()) return config.status();
  return kube::HttpClient::New(*config);
}

constexpr absl::Duration kLease = absl::Seconds(4);
constexpr absl::Duration kRenew = absl::Seconds(3);
constexpr absl::Duration kRetry = absl::Seconds(1);

class LeaderElectionE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<kube::HttpClient>> c = ClientFromEnv();
    ASSERT_TRUE(c.ok()) << c.status();
    admin_ = *std::move(c);
    absl::BitGen gen;
    ns_ = absl::StrCat("weir-le-", getpid(), "-", absl::Uniform(gen, 0, 1000000));
    ASSERT_TRUE(
        admin_->Create(kube::resources::Namespaces(), "", {{"metadata", {{"name", ns_}}}}).ok());
  }
  void TearDown() override {
    if (admin_ != nullptr) (void)admin_->Delete(kube::resources::Namespaces(), "", ns_);
  }

  struct Candidate {
    std::unique_ptr<kube::HttpClient> client;  // each candidate its own connection
    std::unique_ptr<LeaderElector> elector;
    std::atomic<int> started{0};
    std::atomic<int> stopped{0};
  };

  std::unique_ptr<Candidate> NewCandidate(const std::string& id) {
    auto c = std::make_unique<Candidate>();
    absl::StatusOr<std::unique_ptr<kube::HttpClient>> client = ClientFromEnv();
    EXPECT_TRUE(client.ok());
    c->client = *std::move(client);
    LeaderElectionConfig config;
    config.lease_namespace = ns_;
    config.lease_name = "weir-controller";
    config.identity = id;
    config.lease_duration = kLease;
    config.renew_deadline = kRenew;
    config.retry_period = kRetry;
    Candidate* raw = c.get();
    config.on_started_leading = [raw] { ++raw->started; };
    config.on_stopped_leading = [raw] { ++raw->stopped; };
    absl::StatusOr<std::unique_ptr<LeaderElector>> e = LeaderElector::New(c->client.get(), config);
    EXPECT_TRUE(e.ok()) << e.status();
    c->elector = *std::move(e);
    return c;
  }

  std::string Holder() {
    absl::StatusOr<json> lease = admin_->Get(kube::resources::Leases(), ns_, "weir-controller");
    if (!lease.ok()) return "<none>";
    return (*lease)["spec"].value("holderIdentity", "");
  }

  std::unique_ptr<kube::HttpClient> admin_;
  std::string ns_;
};

TEST_F(LeaderElectionE2eTest, ExactlyOneLeadsAndAReleaseHandsOverAtOnce) {
  std::unique_ptr<Candidate> a = NewCandidate("a");
  std::unique_ptr<Candidate> b = NewCandidate("b");
  a->elector->Start();
  b->elector->Start();
  ASSERT_TRUE(Eventually([&] { return a->elector->IsLeader() || b->elector->IsLeader(); },
                         absl::Seconds(10)));
  // For several renew periods: exactly one leads, and it is the lease holder.
  const absl::Time until = absl::Now() + 3 * kLease;
  while (absl::Now() < until) {
    const bool la = a->elector->IsLeader();
    const bool lb = b->elector->IsLeader();
    ASSERT_NE(la, lb) << "a=" << la << " b=" << lb;
    absl::SleepFor(absl::Milliseconds(100));
  }
  Candidate* leader = a->elector->IsLeader() ? a.get() : b.get();
  Candidate* other = leader == a.get() ? b.get() : a.get();
  EXPECT_EQ(Holder(), leader == a.get() ? "a" : "b");
  EXPECT_EQ(leader->started.load(), 1);
  EXPECT_EQ(other->started.load(), 0);

  const absl::Time stop_at = absl::Now();
  leader->elector->Stop();  // releases the lease
  EXPECT_EQ(leader->stopped.load(), 1);
  ASSERT_TRUE(Eventually([&] { return other->elector->IsLeader(); }, kLease));
  const absl::Duration handover = absl::Now() - stop_at;
  // A released lease is taken at the next retry, not after the lease duration.
  EXPECT_LT(handover, kRetry * 1.2 + absl::Milliseconds(500));
  std::cerr << "release handover: " << handover << "\n";
  other->elector->Stop();
}

TEST_F(LeaderElectionE2eTest, TakesOverWithinTheLeaseDurationWhenTheLeaderIsKilled) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const std::string lease_seconds = std::to_string(absl::ToInt64Seconds(kLease));
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(WEIR_LE_HELPER, WEIR_LE_HELPER, ns_.c_str(), "weir-controller", "killed",
          lease_seconds.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* from_child = fdopen(out[0], "r");
  ASSERT_NE(from_child, nullptr);
  char line[64] = {};
  ASSERT_NE(std::fgets(line, sizeof(line), from_child), nullptr) << "helper exited early";
  ASSERT_EQ(std::string(line), "LEADING\n");
  EXPECT_EQ(Holder(), "killed");

  std::unique_ptr<Candidate> b = NewCandidate("survivor");
  b->elector->Start();
  // While the helper lives and renews, b never leads.
  absl::SleepFor(2 * kLease);
  EXPECT_FALSE(b->elector->IsLeader());
  EXPECT_EQ(Holder(), "killed");

  ASSERT_EQ(kill(child, SIGKILL), 0);
  const absl::Time killed = absl::Now();
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  std::fclose(from_child);

  ASSERT_TRUE(Eventually([&] { return b->elector->IsLeader(); }, 3 * kLease))
      << "no takeover after the leader was killed";
  const absl::Duration takeover = absl::Now() - killed;
  // The lease was renewed at most one retry period before the kill, b
  // notices it unchanged for kLease, and tries every retry period (+20%).
  EXPECT_LE(takeover, kLease + kRetry * 1.2 + absl::Milliseconds(500));
  EXPECT_EQ(Holder(), "survivor");
  absl::StatusOr<json> lease = admin_->Get(kube::resources::Leases(), ns_, "weir-controller");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
  std::cerr << "takeover after SIGKILL: " << takeover << " (lease " << kLease << ")\n";
  b->elector->Stop();
}

}  // namespace
}  // namespace weir::e2e
