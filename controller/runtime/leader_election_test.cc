#include "runtime/leader_election.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/errors.h"
#include "runtime/fake_client.h"

namespace weir::runtime {
namespace {

using nlohmann::json;
using Attempt = LeaderElector::Attempt;
using ::testing::ElementsAre;

const kube::ResourceRef kLeases = kube::resources::Leases();

// Records callbacks in order; lets a test wait for the n-th.
class Callbacks {
 public:
  void Push(std::string s) {
    absl::MutexLock l(&mu_);
    log_.push_back(std::move(s));
  }
  std::vector<std::string> WaitFor(size_t n) {
    absl::MutexLock l(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return log_.size() >= n; };
    mu_.Await(absl::Condition(&enough));
    return log_;
  }
  std::vector<std::string> Get() {
    absl::MutexLock l(&mu_);
    return log_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);
};

class LeaderElectionTest : public ::testing::Test {
 protected:
  std::unique_ptr<LeaderElector> Elector(const std::string& id, Callbacks* cb = nullptr,
                                         bool release_on_stop = true) {
    LeaderElectionConfig c;
    c.lease_namespace = "weir-system";
    c.lease_name = "weir-controller";
    c.identity = id;
    c.clock = &clock_;
    c.release_on_stop = release_on_stop;
    if (cb != nullptr) {
      c.on_started_leading = [cb, id, this] { cb->Push("start " + id + " holder=" + Holder()); };
      c.on_stopped_leading = [cb, id, this] { cb->Push("stop " + id + " holder=" + Holder()); };
    }
    absl::StatusOr<std::unique_ptr<LeaderElector>> e = LeaderElector::New(&client_, c);
    EXPECT_TRUE(e.ok()) << e.status();
    return *std::move(e);
  }

  json Lease() {
    absl::StatusOr<json> l = client_.Get(kLeases, "weir-system", "weir-controller");
    return l.ok() ? (*l)["spec"] : json();
  }
  std::string Holder() {
    std::vector<json> leases = client_.Objects(kLeases);
    if (leases.empty()) return "<none>";
    return leases[0]["spec"].value("holderIdentity", "");
  }
  std::string Now() { return FormatMicroTime(clock_.Now()); }

  FakeClock clock_;
  FakeClient client_{&clock_};
};

TEST(LeaderElectionConfigTest, Validation) {
  LeaderElectionConfig c;
  c.lease_namespace = "ns";
  c.lease_name = "l";
  c.identity = "a";
  EXPECT_TRUE(ValidateLeaderElectionConfig(c).ok());
  LeaderElectionConfig bad = c;
  bad.identity = "";
  EXPECT_FALSE(ValidateLeaderElectionConfig(bad).ok());
  bad = c;
  bad.renew_deadline = bad.lease_duration;
  EXPECT_FALSE(ValidateLeaderElectionConfig(bad).ok());
  bad = c;
  bad.retry_period = bad.renew_deadline;
  EXPECT_FALSE(ValidateLeaderElectionConfig(bad).ok());
  bad = c;
  bad.lease_name = "";
  EXPECT_FALSE(LeaderElector::New(nullptr, bad).ok());
}

TEST(LeaderElectionConfigTest, MicroTime) {
  EXPECT_EQ(FormatMicroTime(absl::FromUnixMicros(1700000000123456)), "2023-11-14T22:13:20.123456Z");
}

TEST_F(LeaderElectionTest, AcquiresAnAbsentLease) {
  auto a = Elector("a");
  EXPECT_EQ(a->TryAcquireOrRenew(), Attempt::kHeld);
  json spec = Lease();
  EXPECT_EQ(spec["holderIdentity"], "a");
  EXPECT_EQ(spec["leaseDurationSeconds"], 15);
  EXPECT_EQ(spec["acquireTime"], Now());
  EXPECT_EQ(spec["renewTime"], Now());
  EXPECT_EQ(spec["leaseTransitions"], 0);
  EXPECT_EQ(a->Leader(), "a");
}

TEST_F(LeaderElectionTest, RenewKeepsAcquireTimeAndTransitions) {
  auto a = Elector("a");
  ASSERT_EQ(a->TryAcquireOrRenew(), Attempt::kHeld);
  const std::string acquired = Now();
  clock_.Advance(absl::Seconds(2));
  ASSERT_EQ(a->TryAcquireOrRenew(), Attempt::kHeld);
  json spec = Lease();
  EXPECT_EQ(spec["acquireTime"], acquired);
  EXPECT_EQ(spec["renewTime"], Now());
  EXPECT_EQ(spec["leaseTransitions"], 0);
}

TEST_F(LeaderElectionTest, ExpiryIsJudgedFromLocalObservationNotRemoteTimes) {
  auto a = Elector("a");
  auto b = Elector("b");
  ASSERT_EQ(a->TryAcquireOrRenew(), Attempt::kHeld);
  EXPECT_EQ(b->TryAcquireOrRenew(), Attempt::kHeldByOther);  // b first sees version 1
  EXPECT_EQ(b->Leader(), "a");
  clock_.Advance(absl::Seconds(10));
  ASSERT_EQ(a->TryAcquireOrRenew(), Attempt::kHeld);
  EXPECT_EQ(b->TryAcquireOrRenew(), Attempt::kHeldByOther);  // version 2 seen at t=10
  clock_.Advance(absl::Seconds(14));                         // t=24 < 10+15
  EXPECT_EQ(b->TryAcquireOrRenew(), Attempt::kHeldByOther);
  clock_.Advance(absl::Seconds(1));  // t=25: unchanged for 15s
  EXPECT_EQ(b->TryAcquireOrRenew(), Attempt::kHeld);
  json spec = Lease();
  EXPECT_EQ(spec["holderIdentity"], "b");
  EXPECT_EQ(spec["leaseTransitions"], 1);
  EXPECT_EQ(spec["acquireTime"], Now());
  // a now sees b's fresh lease.
  EXPECT_EQ(a->TryAcquireOrRenew(), Attempt::kHeldByOther);
}

TEST_F(LeaderElectionTest, AncientRemoteRenewTimeDoesNotMeanExpired) {
  json lease = {{"metadata", {{"name", "weir-controller"}}},
                {"spec",
                 {{"holderIdentity", "other"},
                  {"leaseDurationSeconds", 15},
                  {"renewTime", "2000-01-01T00:00:00.000000Z"},
                  {"leaseTransitions", 4}}}};
  ASSERT_TRUE(client_.Create(kLeases, "weir-system", lease).ok());
  auto b = Elector("b");
  EXPECT_EQ(b->TryAcquireOrRenew(), Attempt::kHeldByOther);
  clock_.Advance(absl::Seconds(15));
  EXPECT_EQ(b->TryAcquireOrRenew(), Attempt::kHeld);
  EXPECT_EQ(Lease()["leaseTransitions"], 5);
}

TEST_F(LeaderElectionTest, HoldersLeaseDurationIsHonoured) {
  json lease = {{"metadata", {{"name", "weir-controller"}}},
                {"spec", {{"holderIdentity", "other"}, {"leaseDurationSeconds", 60}}}};
  ASSERT_TRUE(client_.Create(kLeases, "weir-system", lease).ok());
  auto b = Elector("b");
  EXPECT_EQ(b->TryAcquireOrRenew(), Attempt::kHeldByOther);
  clock_.Advance(absl::Seconds(59));
  EXPECT_EQ(b->TryAcquireOrRenew(), Attempt::kHeldByOther);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(b->TryAcquireOrRenew(), Attempt::kHeld);
}

TEST_F(LeaderElectionTest, ConflictMeansSomeoneElseWon) {
  auto a = Elector("a");
  client_.FailNext("create", kube::NewAlreadyExists("leases", "weir-controller"));
  EXPECT_EQ(a->TryAcquireOrRenew(), Attempt::kConflict);
  ASSERT_EQ(a->TryAcquireOrRenew(), Attempt::kHeld);
  client_.FailNext("update", kube::NewConflict("leases", "weir-controller", "modified"));
  EXPECT_EQ(a->TryAcquireOrRenew(), Attempt::kConflict);
  client_.FailNext("get", kube::NewConnectionFailed("refused"));
  EXPECT_EQ(a->TryAcquireOrRenew(), Attempt::kError);
}

TEST_F(LeaderElectionTest, ReleaseLetsAnotherTakeOverAtOnce) {
  auto a = Elector("a");
  auto b = Elector("b");
  ASSERT_EQ(a->TryAcquireOrRenew(), Attempt::kHeld);
  EXPECT_EQ(b->TryAcquireOrRenew(), Attempt::kHeldByOther);
  ASSERT_TRUE(b->Release().ok());  // not b's: a no-op
  EXPECT_EQ(Lease()["holderIdentity"], "a");
  ASSERT_TRUE(a->Release().ok());
  EXPECT_EQ(Lease()["holderIdentity"], "");
  EXPECT_EQ(Lease()["leaseDurationSeconds"], 1);
  EXPECT_EQ(b->TryAcquireOrRenew(), Attempt::kHeld);  // no waiting
  EXPECT_EQ(Lease()["leaseTransitions"], 1);
}

// ---- With the elector's threads ----

TEST_F(LeaderElectionTest, LeadsAndRenewsEveryRetryPeriod) {
  Callbacks cb;
  auto a = Elector("a", &cb);
  a->Start();
  EXPECT_THAT(cb.WaitFor(1), ElementsAre("start a holder=a"));
  EXPECT_TRUE(a->IsLeader());
  for (int i = 1; i <= 3; ++i) {
    clock_.WaitForWaiters(2);  // the renew loop and the watchdog
    clock_.Advance(absl::Seconds(2));
    client_.WaitForCalls("update", i);
    clock_.WaitForWaiters(2);
    EXPECT_EQ(Lease()["renewTime"], Now()) << i;
  }
  EXPECT_TRUE(a->IsLeader());
  a->Stop();
  EXPECT_THAT(cb.Get(), ElementsAre("start a holder=a", "stop a holder=a"));
  // Released after the callback, so no one else could lead meanwhile.
  EXPECT_EQ(Lease()["holderIdentity"], "");
}

TEST_F(LeaderElectionTest, StopsLeadingWhenTheRenewDeadlinePasses) {
  Callbacks cb;
  auto a = Elector("a", &cb);
  a->Start();
  cb.WaitFor(1);
  client_.FailNext("get", kube::NewConnectionFailed("refused"), 1000);
  // Renewals fail at t=2,4,6,8; still leading just before t=10.
  for (int i = 1; i <= 4; ++i) {
    clock_.WaitForWaiters(2);
    clock_.Advance(absl::Seconds(2));
    client_.WaitForCalls("get", 1 + i);
  }
  clock_.WaitForWaiters(2);
  clock_.Advance(absl::Seconds(1.9));
  clock_.WaitForWaiters(2);
  EXPECT_TRUE(a->IsLeader());
  clock_.Advance(absl::Seconds(0.1));  // t=10
  EXPECT_THAT(cb.WaitFor(2), ElementsAre("start a holder=a", "stop a holder=a"));
  EXPECT_FALSE(a->IsLeader());
  a->Stop();
  EXPECT_EQ(cb.Get().size(), 2u);  // no second stop
}

TEST_F(LeaderElectionTest, WatchdogStopsLeadingWhileARenewHangs) {
  Callbacks cb;
  auto a = Elector("a", &cb);
  a->Start();
  cb.WaitFor(1);
  absl::Notification entered;
  absl::Notification release;
  client_.SetInterceptor(
      [&](absl::string_view verb, const kube::ResourceRef&, absl::string_view, absl::string_view) {
        if (verb == "get" && !entered.HasBeenNotified()) {
          entered.Notify();
          release.WaitForNotification();
        }
        return absl::OkStatus();
      });
  clock_.WaitForWaiters(2);
  clock_.Advance(absl::Seconds(2));
  entered.WaitForNotification();  // the renew is stuck in Get
  clock_.Advance(absl::Seconds(8));
  EXPECT_THAT(cb.WaitFor(2), ElementsAre("start a holder=a", "stop a holder=a"));
  EXPECT_FALSE(a->IsLeader());
  release.Notify();
  a->Stop();
}

TEST_F(LeaderElectionTest, StopsAtOnceWhenAnotherHolderIsSeen) {
  Callbacks cb;
  auto a = Elector("a", &cb);
  a->Start();
  cb.WaitFor(1);
  // Someone else writes the lease (e.g. a took too long and b took over).
  absl::StatusOr<json> lease = client_.Get(kLeases, "weir-system", "weir-controller");
  ASSERT_TRUE(lease.ok());
  (*lease)["spec"]["holderIdentity"] = "b";
  ASSERT_TRUE(client_.Update(kLeases, "weir-system", *lease).ok());
  clock_.WaitForWaiters(2);
  clock_.Advance(absl::Seconds(2));
  EXPECT_THAT(cb.WaitFor(2), ElementsAre("start a holder=a", "stop a holder=b"));
  EXPECT_EQ(a->Leader(), "b");
  a->Stop();
  EXPECT_EQ(Lease()["holderIdentity"], "b");  // not ours: not released
}

TEST_F(LeaderElectionTest, CandidateTakesOverAfterTheLeaderDies) {
  Callbacks cb;
  auto a = Elector("a", &cb, /*release_on_stop=*/false);  // dies without releasing
  auto b = Elector("b", &cb);
  a->Start();
  cb.WaitFor(1);
  b->Start();
  client_.WaitForCalls("get", 2);  // b has seen a's lease
  a->Stop();
  EXPECT_THAT(cb.WaitFor(2), ElementsAre("start a holder=a", "stop a holder=a"));
  EXPECT_FALSE(b->IsLeader());
  const absl::Time died = clock_.Now();
  // b retries every 2..2.4s and takes over once the lease is 15s old. Step
  // from one of b's wake-ups to the next: b is done with an attempt when it
  // leads or sleeps again (while not leading, b's watchdog is off the clock).
  while (!b->IsLeader()) {
    clock_.WaitForWaiters(1);
    const int gets = client_.Calls("get");
    clock_.SetTime(clock_.NextDeadline());
    client_.WaitForCalls("get", gets + 1);
    while (!b->IsLeader() && clock_.NumWaiters() < 1) std::this_thread::yield();
  }
  cb.WaitFor(3);
  EXPECT_THAT(cb.Get(), ElementsAre("start a holder=a", "stop a holder=a", "start b holder=b"));
  EXPECT_GE(clock_.Now() - died, absl::Seconds(15));
  EXPECT_LE(clock_.Now() - died, absl::Seconds(15) + absl::Milliseconds(2900));
  EXPECT_EQ(Lease()["leaseTransitions"], 1);
  b->Stop();
}

TEST_F(LeaderElectionTest, StoppingACandidateCallsNothing) {
  Callbacks cb;
  auto a = Elector("a");
  ASSERT_EQ(a->TryAcquireOrRenew(), Attempt::kHeld);
  auto b = Elector("b", &cb);
  b->Start();
  client_.WaitForCalls("get", 2);
  clock_.WaitForWaiters(1);
  b->Stop();
  EXPECT_TRUE(cb.Get().empty());
  EXPECT_EQ(Lease()["holderIdentity"], "a");
}

}  // namespace
}  // namespace weir::runtime
