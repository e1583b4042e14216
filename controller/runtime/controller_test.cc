#include "runtime/controller.h"

#include <atomic>
#include <functional>
#include <map>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::runtime {
namespace {

using absl::Milliseconds;
using absl::Seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(RequestTest, KeyRoundTrip) {
  EXPECT_EQ((Request{"ns", "a"}.Key()), "ns/a");
  EXPECT_EQ((Request{"", "node-1"}.Key()), "node-1");
  EXPECT_EQ(Request::FromKey("ns/a"), (Request{"ns", "a"}));
  EXPECT_EQ(Request::FromKey("cluster-obj"), (Request{"", "cluster-obj"}));
}

TEST(InvariantTest, ThrowsWithLocationAndMessage) {
  try {
    WEIR_INVARIANT(1 + 1 == 3, "arithmetic");
    FAIL() << "did not throw";
  } catch (const InvariantViolation& e) {
    EXPECT_THAT(e.what(), HasSubstr("controller_test.cc:"));
    EXPECT_THAT(e.what(), HasSubstr("invariant `1 + 1 == 3` failed: arithmetic"));
  }
  EXPECT_NO_THROW(WEIR_INVARIANT(true, "fine"));
}

// A reconciler whose behaviour per call is scripted by the test. Records
// every call; tests wait for call counts with a blocking Await (no sleeps).
class FakeReconciler : public Reconciler {
 public:
  using Behavior = std::function<absl::StatusOr<Result>(const Request&)>;

  absl::StatusOr<Result> Reconcile(const Request& request) override {
    Behavior b;
    {
      absl::MutexLock l(&mu_);
      calls_.push_back(request.Key());
      auto it = script_.find(request.Key());
      if (it != script_.end() && !it->second.empty()) {
        b = std::move(it->second.front());
        it->second.erase(it->second.begin());
      }
    }
    if (b) return b(request);
    return Result{};
  }

  // Behaviours for the next calls of `key`, in order; then plain success.
  void Script(const std::string& key, std::vector<Behavior> behaviors) {
    absl::MutexLock l(&mu_);
    for (auto& b : behaviors) script_[key].push_back(std::move(b));
  }
  void AwaitCalls(size_t n) {
    absl::MutexLock l(&mu_);
    auto enough = [&]() { return calls_.size() >= n; };
    mu_.Await(absl::Condition(&enough));
  }
  std::vector<std::string> Calls() {
    absl::MutexLock l(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> calls_;
  std::map<std::string, std::vector<Behavior>> script_;
};

class CaptureSink : public LogSink {
 public:
  void Write(absl::string_view line) override {
    absl::MutexLock l(&mu);
    text += std::string(line);
  }
  std::string Text() {
    absl::MutexLock l(&mu);
    return text;
  }
  absl::Mutex mu;
  std::string text;
};

class ControllerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Controller> Make(int workers) {
    Logger::Options lo;
    lo.clock = &clock_;
    lo.sink = sink_;
    lo.level = LogLevel::kDebug;
    logger_ = std::make_unique<Logger>(lo);
    ControllerOptions o;
    o.name = "test";
    o.workers = workers;
    o.clock = &clock_;
    o.metrics = &registry_;
    o.logger = logger_.get();
    return std::make_unique<Controller>(std::move(o), reconciler_);
  }
  // Returns once `n` workers are blocked in Get() with nothing ready: the
  // controller is idle until time moves or something is enqueued.
  void AwaitIdle(int n) { clock_.WaitForWaiters(n); }
  double Sample(const std::string& line_prefix) {
    const std::string text = registry_.Render();
    const size_t at = text.find(line_prefix + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + line_prefix.size() + 1));
  }

  FakeClock clock_;
  MetricsRegistry registry_;
  std::shared_ptr<CaptureSink> sink_ = std::make_shared<CaptureSink>();
  std::unique_ptr<Logger> logger_;
  FakeReconciler reconciler_;
};

TEST_F(ControllerTest, SuccessForgetsAndCountsSuccess) {
  auto c = Make(1);
  c->Start();
  c->Enqueue({"ns", "a"});
  reconciler_.AwaitCalls(1);
  AwaitIdle(1);
  EXPECT_THAT(reconciler_.Calls(), ElementsAre("ns/a"));
  EXPECT_EQ(c->queue().NumRequeues("ns/a"), 0);
  EXPECT_EQ(Sample("weir_reconcile_total{controller=\"test\",result=\"success\"}"), 1);
  EXPECT_EQ(Sample("weir_reconcile_errors_total{controller=\"test\"}"), 0);
  EXPECT_TRUE(c->Stop(Seconds(1)));
}

TEST_F(ControllerTest, ErrorsRequeueWithExponentialBackoffThenSucceed) {
  auto fail = [](const Request&) -> absl::StatusOr<Result> {
    return absl::UnavailableError("api down");
  };
  reconciler_.Script("ns/a", {fail, fail, fail});
  auto c = Make(1);
  c->Start();
  const absl::Time t0 = clock_.Now();
  c->Enqueue({"ns", "a"});
  reconciler_.AwaitCalls(1);
  AwaitIdle(1);
  EXPECT_EQ(clock_.NextDeadline(), t0 + Milliseconds(5));  // waiting out the backoff
  clock_.Advance(Milliseconds(5));
  reconciler_.AwaitCalls(2);
  AwaitIdle(1);
  EXPECT_EQ(clock_.NextDeadline(), t0 + Milliseconds(15));  // +10ms
  clock_.Advance(Milliseconds(10));
  reconciler_.AwaitCalls(3);
  AwaitIdle(1);
  EXPECT_EQ(clock_.NextDeadline(), t0 + Milliseconds(35));  // +20ms
  EXPECT_EQ(c->queue().NumRequeues("ns/a"), 3);
  clock_.Advance(Milliseconds(20));
  reconciler_.AwaitCalls(4);  // scripted failures used up: success
  AwaitIdle(1);
  EXPECT_EQ(clock_.NextDeadline(), absl::InfiniteFuture());
  EXPECT_EQ(c->queue().NumRequeues("ns/a"), 0);
  EXPECT_EQ(reconciler_.Calls().size(), 4u);
  EXPECT_EQ(Sample("weir_reconcile_total{controller=\"test\",result=\"error\"}"), 3);
  EXPECT_EQ(Sample("weir_reconcile_total{controller=\"test\",result=\"success\"}"), 1);
  EXPECT_EQ(Sample("weir_reconcile_errors_total{controller=\"test\"}"), 3);
  EXPECT_EQ(Sample("weir_workqueue_retries_total{name=\"test\"}"), 3);
  EXPECT_THAT(sink_->Text(), HasSubstr("msg=\"reconcile failed; retrying with backoff\" "
                                       "controller=test key=ns/a error=\"UNAVAILABLE: api down\""));
  EXPECT_TRUE(c->Stop(Seconds(1)));
}

// A 409 is retried without growing the key's backoff (the fault suite saw a
// burst of conflicts from a lagging cache park a key for minutes), and it is
// not an error a person must act on.
TEST_F(ControllerTest, ConflictsAreRetriedWithoutGrowingTheBackoffAndLoggedAsInfo) {
  auto conflict = [](const Request&) -> absl::StatusOr<Result> {
    return absl::AbortedError("the object has been modified");
  };
  reconciler_.Script("ns/a", std::vector<FakeReconciler::Behavior>(20, conflict));
  auto c = Make(1);
  c->Start();
  const absl::Time t0 = clock_.Now();
  c->Enqueue({"ns", "a"});
  for (int i = 1; i <= 20; ++i) {
    reconciler_.AwaitCalls(i);
    AwaitIdle(1);
    EXPECT_EQ(clock_.NextDeadline(), t0 + i * kConflictRetry) << "conflict " << i;
    EXPECT_EQ(c->queue().NumRequeues("ns/a"), 0);
    clock_.Advance(kConflictRetry);
  }
  reconciler_.AwaitCalls(21);
  AwaitIdle(1);
  EXPECT_THAT(sink_->Text(),
              HasSubstr("level=info msg=\"reconcile met a newer version; retrying\""));
  EXPECT_THAT(sink_->Text(), Not(HasSubstr("level=error")));
  EXPECT_TRUE(c->Stop(Seconds(1)));
}

TEST_F(ControllerTest, ExceptionsAndInvariantFailuresAreCaughtAndRetried) {
  reconciler_.Script(
      "ns/a", {[](const Request&) -> absl::StatusOr<Result> { throw std::runtime_error("boom"); },
               [](const Request&) -> absl::StatusOr<Result> {
                 WEIR_INVARIANT(false, "phase table violated");
                 return Result{};
               },
               [](const Request&) -> absl::StatusOr<Result> { throw 42; }});
  auto c = Make(2);
  c->Start();
  c->Enqueue({"ns", "a"});
  reconciler_.AwaitCalls(1);
  AwaitIdle(2);
  clock_.Advance(Milliseconds(5));
  reconciler_.AwaitCalls(2);
  AwaitIdle(2);
  clock_.Advance(Milliseconds(10));
  reconciler_.AwaitCalls(3);
  AwaitIdle(2);
  clock_.Advance(Milliseconds(20));
  reconciler_.AwaitCalls(4);
  AwaitIdle(2);
  EXPECT_EQ(Sample("weir_reconcile_exceptions_total{controller=\"test\"}"), 3);
  EXPECT_EQ(Sample("weir_reconcile_total{controller=\"test\",result=\"error\"}"), 3);
  EXPECT_EQ(Sample("weir_reconcile_total{controller=\"test\",result=\"success\"}"), 1);
  const std::string logs = sink_->Text();
  EXPECT_THAT(logs, HasSubstr("key=ns/a exception=boom requeues=1"));
  EXPECT_THAT(logs, HasSubstr("invariant `false` failed: phase table violated"));
  EXPECT_THAT(logs, HasSubstr("exception=\"non-standard exception\""));
  EXPECT_TRUE(c->Stop(Seconds(1)));
}

TEST_F(ControllerTest, RequeueAfterForgetsBackoffAndWaitsExactly) {
  auto fail = [](const Request&) -> absl::StatusOr<Result> { return absl::InternalError("x"); };
  auto later = [](const Request&) -> absl::StatusOr<Result> {
    return Result{.requeue = true, .requeue_after = Seconds(30)};  // requeue_after wins
  };
  reconciler_.Script("ns/a", {fail, later});
  auto c = Make(1);
  c->Start();
  c->Enqueue({"ns", "a"});
  reconciler_.AwaitCalls(1);
  AwaitIdle(1);
  clock_.Advance(Milliseconds(5));
  reconciler_.AwaitCalls(2);
  AwaitIdle(1);
  const absl::Time t1 = clock_.Now();
  EXPECT_EQ(c->queue().NumRequeues("ns/a"), 0);  // forgotten
  EXPECT_EQ(clock_.NextDeadline(), t1 + Seconds(30));
  clock_.Advance(Seconds(29));
  AwaitIdle(1);
  EXPECT_EQ(reconciler_.Calls().size(), 2u);
  clock_.Advance(Seconds(1));
  reconciler_.AwaitCalls(3);
  EXPECT_EQ(Sample("weir_reconcile_total{controller=\"test\",result=\"requeue_after\"}"), 1);
  EXPECT_TRUE(c->Stop(Seconds(1)));
}

TEST_F(ControllerTest, RequeueUsesRateLimiter) {
  auto again = [](const Request&) -> absl::StatusOr<Result> { return Result{.requeue = true}; };
  reconciler_.Script("ns/a", {again, again});
  auto c = Make(1);
  c->Start();
  const absl::Time t0 = clock_.Now();
  c->Enqueue({"ns", "a"});
  reconciler_.AwaitCalls(1);
  AwaitIdle(1);
  EXPECT_EQ(clock_.NextDeadline(), t0 + Milliseconds(5));
  clock_.Advance(Milliseconds(5));
  reconciler_.AwaitCalls(2);
  AwaitIdle(1);
  EXPECT_EQ(clock_.NextDeadline(), t0 + Milliseconds(15));
  EXPECT_EQ(c->queue().NumRequeues("ns/a"), 2);
  clock_.Advance(Milliseconds(10));
  reconciler_.AwaitCalls(3);
  AwaitIdle(1);
  EXPECT_EQ(c->queue().NumRequeues("ns/a"), 0);
  EXPECT_EQ(Sample("weir_reconcile_total{controller=\"test\",result=\"requeue\"}"), 2);
  EXPECT_TRUE(c->Stop(Seconds(1)));
}

TEST_F(ControllerTest, DurationHistogramUsesTheClock) {
  reconciler_.Script("ns/a", {[this](const Request&) -> absl::StatusOr<Result> {
                       clock_.Advance(Milliseconds(300));  // the reconcile "takes" 300ms
                       return Result{};
                     }});
  auto c = Make(1);
  c->Start();
  c->Enqueue({"ns", "a"});
  reconciler_.AwaitCalls(1);
  AwaitIdle(1);
  EXPECT_EQ(Sample("weir_reconcile_time_seconds_bucket{controller=\"test\",le=\"0.25\"}"), 0);
  EXPECT_EQ(Sample("weir_reconcile_time_seconds_bucket{controller=\"test\",le=\"0.5\"}"), 1);
  EXPECT_EQ(Sample("weir_reconcile_time_seconds_sum{controller=\"test\"}"), 0.3);
  EXPECT_EQ(Sample("weir_workqueue_work_duration_seconds_count{name=\"test\"}"), 1);
  EXPECT_EQ(Sample("weir_workqueue_adds_total{name=\"test\"}"), 1);
  EXPECT_EQ(Sample("weir_workqueue_depth{name=\"test\"}"), 0);
  EXPECT_EQ(Sample("weir_controller_max_workers{controller=\"test\"}"), 1);
  EXPECT_EQ(Sample("weir_controller_active_workers{controller=\"test\"}"), 0);
  EXPECT_TRUE(c->Stop(Seconds(1)));
}

TEST_F(ControllerTest, ManyWorkersReconcileEachKeyOnce) {
  auto c = Make(4);
  c->Start();
  for (int i = 0; i < 200; ++i) c->Enqueue({"ns", "obj-" + std::to_string(i)});
  reconciler_.AwaitCalls(200);
  AwaitIdle(4);
  std::vector<std::string> calls = reconciler_.Calls();
  std::sort(calls.begin(), calls.end());
  EXPECT_EQ(std::unique(calls.begin(), calls.end()), calls.end());
  EXPECT_EQ(calls.size(), 200u);
  EXPECT_TRUE(c->Stop(Seconds(1)));
}

// A reconcile blocked on the test's gate, to exercise orderly stop.
class GatedTest : public ControllerTest {
 protected:
  void SetUp() override {
    reconciler_.Script("ns/slow", {[this](const Request&) -> absl::StatusOr<Result> {
                         started_.Notify();
                         gate_.WaitForNotification();
                         return absl::InternalError("fails after stop: not requeued");
                       }});
  }
  absl::Notification started_;
  absl::Notification gate_;
};

TEST_F(GatedTest, StopLetsRunningReconcileFinishAndTakesNoNewWork) {
  auto c = Make(1);
  c->Start();
  c->Enqueue({"ns", "slow"});
  c->Enqueue({"ns", "queued"});
  started_.WaitForNotification();
  std::atomic<int> stopped{-1};
  std::thread stopper([&] { stopped = c->Stop(Seconds(10)); });
  clock_.WaitForWaiters(1);  // Stop is waiting for the running reconcile
  EXPECT_EQ(stopped, -1);
  gate_.Notify();
  stopper.join();
  EXPECT_EQ(stopped, 1);
  EXPECT_THAT(reconciler_.Calls(), ElementsAre("ns/slow"));  // "ns/queued" never started
  EXPECT_EQ(c->queue().NumWaiting(), 0u);                    // the error was not requeued
}

TEST_F(GatedTest, StopGivesUpAfterGraceWithoutKillingTheReconcile) {
  auto c = Make(1);
  c->Start();
  c->Enqueue({"ns", "slow"});
  started_.WaitForNotification();
  std::atomic<int> stopped{-1};
  std::thread stopper([&] { stopped = c->Stop(Seconds(10)); });
  clock_.WaitForWaiters(1);
  clock_.Advance(Seconds(10));
  stopper.join();
  EXPECT_EQ(stopped, 0);
  EXPECT_THAT(sink_->Text(), HasSubstr("reconciles still running after the grace period"));
  gate_.Notify();  // the destructor then waits for the worker
  c.reset();
  EXPECT_THAT(reconciler_.Calls(), ElementsAre("ns/slow"));
}

TEST_F(ControllerTest, StopWithoutStartAndTwiceIsFine) {
  auto c = Make(3);
  EXPECT_TRUE(c->Stop(Seconds(1)));
  EXPECT_TRUE(c->Stop(Seconds(1)));
  auto d = Make(2);
  d->Start();
  AwaitIdle(2);
  EXPECT_TRUE(d->Stop(absl::ZeroDuration()));
  EXPECT_TRUE(d->Stop(absl::ZeroDuration()));
}

}  // namespace
}  // namespace weir::runtime
