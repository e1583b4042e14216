#include "runtime/metrics.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::runtime {
namespace {

using ::testing::HasSubstr;

TEST(FormatMetricValueTest, ShortestRoundTripAndSpecials) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(3), "3");
  EXPECT_EQ(FormatMetricValue(-2.5), "-2.5");
  EXPECT_EQ(FormatMetricValue(0.005), "0.005");
  EXPECT_EQ(FormatMetricValue(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatMetricValue(1e6), "1e+06");
  EXPECT_EQ(FormatMetricValue(123456), "123456");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(MetricsRegistryTest, CounterWithLabelsRendersExactly) {
  MetricsRegistry r;
  CounterFamily& total =
      r.AddCounter("weir_reconcile_total", "Reconciles by result.", {"controller", "result"});
  total.WithLabelValues({"batch", "success"}).Inc(3);
  total.WithLabelValues({"batch", "error"}).Inc();
  total.WithLabelValues({"flow", "success"}).Inc(0.5);
  total.WithLabelValues({"batch", "error"}).Inc(-7);  // ignored: counters only go up
  EXPECT_EQ(r.Render(),
            "# HELP weir_reconcile_total Reconciles by result.\n"
            "# TYPE weir_reconcile_total counter\n"
            "weir_reconcile_total{controller=\"batch\",result=\"error\"} 1\n"
            "weir_reconcile_total{controller=\"batch\",result=\"success\"} 3\n"
            "weir_reconcile_total{controller=\"flow\",result=\"success\"} 0.5\n");
}

TEST(MetricsRegistryTest, GaugeWithoutLabels) {
  MetricsRegistry r;
  Gauge& g = r.AddGauge("weir_leader", "1 if this process leads.").Get();
  g.Set(5);
  g.Inc();
  g.Dec();
  g.Dec();
  g.Add(-0.25);
  EXPECT_EQ(g.Value(), 3.75);
  EXPECT_EQ(r.Render(),
            "# HELP weir_leader 1 if this process leads.\n"
            "# TYPE weir_leader gauge\n"
            "weir_leader 3.75\n");
}

TEST(MetricsRegistryTest, HistogramBucketsSumCountAndInf) {
  MetricsRegistry r;
  HistogramFamily& h = r.AddHistogram("weir_reconcile_time_seconds", "Reconcile duration.",
                                      {"controller"}, {0.1, 0.5, 1});
  Histogram& batch = h.WithLabelValues({"batch"});
  batch.Observe(0.05);
  batch.Observe(0.1);  // on a bound: counts in that bucket
  batch.Observe(0.3);
  batch.Observe(2);  // above all bounds: only +Inf
  EXPECT_EQ(r.Render(),
            "# HELP weir_reconcile_time_seconds Reconcile duration.\n"
            "# TYPE weir_reconcile_time_seconds histogram\n"
            "weir_reconcile_time_seconds_bucket{controller=\"batch\",le=\"0.1\"} 2\n"
            "weir_reconcile_time_seconds_bucket{controller=\"batch\",le=\"0.5\"} 3\n"
            "weir_reconcile_time_seconds_bucket{controller=\"batch\",le=\"1\"} 3\n"
            "weir_reconcile_time_seconds_bucket{controller=\"batch\",le=\"+Inf\"} 4\n"
            "weir_reconcile_time_seconds_sum{controller=\"batch\"} 2.45\n"
            "weir_reconcile_time_seconds_count{controller=\"batch\"} 4\n");
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndHelp) {
  MetricsRegistry r;
  r.AddCounter("x_total", "Line one\nback\\slash \"quoted\"", {"path"})
      .WithLabelValues({"a\"b\\c\nd"})
      .Inc();
  EXPECT_EQ(r.Render(),
            "# HELP x_total Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE x_total counter\n"
            "x_total{path=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsRegistryTest, FamiliesSortedByNameThenCollectors) {
  MetricsRegistry r;
  r.AddGauge("b_gauge", "B.").Get().Set(1);
  r.AddCounter("a_total", "A.").Get().Inc();
  class Fixed : public Collector {
   public:
    void Collect(std::vector<MetricFamilySnapshot>& out) const override {
      out.push_back({"z_custom", "Z.", MetricType::kGauge, {{"", {{"k", "v"}}, 7}}});
    }
  };
  r.AddCollector(std::make_unique<Fixed>());
  EXPECT_EQ(r.Render(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"
            "# HELP b_gauge B.\n# TYPE b_gauge gauge\nb_gauge 1\n"
            "# HELP z_custom Z.\n# TYPE z_custom gauge\nz_custom{k=\"v\"} 7\n");
}

TEST(MetricsRegistryTest, FamilyWithoutChildrenRendersHeadersOnly) {
  MetricsRegistry r;
  r.AddCounter("idle_total", "Nothing yet.", {"x"});
  EXPECT_EQ(r.Render(), "# HELP idle_total Nothing yet.\n# TYPE idle_total counter\n");
}

TEST(MetricsRegistryTest, ReRegisteringReturnsSameFamilyOrThrows) {
  MetricsRegistry r;
  CounterFamily& a = r.AddCounter("c_total", "C.", {"x"});
  CounterFamily& b = r.AddCounter("c_total", "C.", {"x"});
  EXPECT_EQ(&a, &b);
  EXPECT_THROW(r.AddGauge("c_total", "C.", {"x"}), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("c_total", "C.", {"y"}), std::invalid_argument);
  HistogramFamily& h = r.AddHistogram("h", "H.", {}, {1, 2});
  EXPECT_EQ(&h, &r.AddHistogram("h", "H.", {}, {1, 2}));
  EXPECT_THROW(r.AddHistogram("h", "H.", {}, {1, 3}), std::invalid_argument);
}

TEST(MetricsRegistryTest, RejectsBadNamesLabelsAndBuckets) {
  MetricsRegistry r;
  EXPECT_THROW(r.AddCounter("1abc", "x"), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("a-b", "x"), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("", "x"), std::invalid_argument);
  EXPECT_NO_THROW(r.AddCounter("ns:sub_total", "x"));
  EXPECT_THROW(r.AddCounter("ok_total", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("ok2_total", "x", {"a:b"}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h1", "x", {"le"}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h2", "x", {}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h3", "x", {}, {2, 1}), std::invalid_argument);
  CounterFamily& c = r.AddCounter("two_total", "x", {"a", "b"});
  EXPECT_THROW(c.WithLabelValues({"only-one"}), std::invalid_argument);
}

TEST(MetricsRegistryTest, BucketHelpers) {
  EXPECT_EQ(ExponentialBuckets(0.001, 2, 4), (std::vector<double>{0.001, 0.002, 0.004, 0.008}));
  EXPECT_EQ(DefaultBuckets().front(), 0.005);
  EXPECT_EQ(DefaultBuckets().back(), 10);
  EXPECT_THROW(ExponentialBuckets(0, 2, 3), std::invalid_argument);
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry r;
  CounterFamily& c = r.AddCounter("n_total", "N.", {"w"});
  HistogramFamily& h = r.AddHistogram("d_seconds", "D.", {}, {1});
  Gauge& g = r.AddGauge("g", "G.").Get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.WithLabelValues({"x"}).Inc();
        h.Get().Observe(0.5);
        g.Inc();
        if (i % 100 == 0) r.Render();  // scrapes race with updates
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.WithLabelValues({"x"}).Value(), 40000);
  EXPECT_EQ(h.Get().Get().count, 40000u);
  EXPECT_EQ(h.Get().Get().cumulative[0], 40000u);
  EXPECT_EQ(g.Value(), 40000);
}

class ProcessCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("weir_proc_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "self" / "fd");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& content) {
    std::ofstream(dir_ / rel) << content;
  }
  ProcessCollector::Options Opts() {
    ProcessCollector::Options o;
    o.self_dir = (dir_ / "self").string();
    o.proc_stat = (dir_ / "stat").string();
    o.clock_ticks = 100;
    o.page_size = 4096;
    return o;
  }
  std::filesystem::path dir_;
};

TEST_F(ProcessCollectorTest, RendersStandardProcessMetricsFromProc) {
  // comm with a space and a ')' to exercise the parser; utime=250 stime=50
  // ticks, starttime=1234 ticks.
  Write("self/stat",
        "4242 (weir ctl) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 1234 "
        "123456789 2000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n");
  Write("self/statm", "30000 2560 500 100 0 4000 0\n");
  Write("stat", "cpu  1 2 3\nbtime 1700000000\nprocesses 5\n");
  Write("self/limits",
        "Limit                     Soft Limit           Hard Limit           Units     \n"
        "Max cpu time              unlimited            unlimited            seconds   \n"
        "Max open files            1024                 524288               files     \n");
  for (const char* fd : {"0", "1", "2", "7"}) Write(std::string("self/fd/") + fd, "");
  MetricsRegistry r;
  r.AddCollector(std::make_unique<ProcessCollector>(Opts()));
  EXPECT_EQ(r.Render(),
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
            "# TYPE process_cpu_seconds_total counter\n"
            "process_cpu_seconds_total 3\n"
            "# HELP process_start_time_seconds Start time of the process since unix epoch in "
            "seconds.\n"
            "# TYPE process_start_time_seconds gauge\n"
            "process_start_time_seconds 1700000012.34\n"
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
            "# TYPE process_resident_memory_bytes gauge\n"
            "process_resident_memory_bytes 10485760\n"
            "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
            "# TYPE process_virtual_memory_bytes gauge\n"
            "process_virtual_memory_bytes 122880000\n"
            "# HELP process_open_fds Number of open file descriptors.\n"
            "# TYPE process_open_fds gauge\n"
            "process_open_fds 4\n"
            "# HELP process_max_fds Maximum number of open file descriptors.\n"
            "# TYPE process_max_fds gauge\n"
            "process_max_fds 1024\n");
}

TEST_F(ProcessCollectorTest, MissingSourcesAreLeftOut) {
  std::filesystem::remove_all(dir_ / "self" / "fd");
  Write("self/statm", "10 5\n");
  MetricsRegistry r;
  r.AddCollector(std::make_unique<ProcessCollector>(Opts()));
  EXPECT_EQ(r.Render(),
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
            "# TYPE process_resident_memory_bytes gauge\n"
            "process_resident_memory_bytes 20480\n"
            "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
            "# TYPE process_virtual_memory_bytes gauge\n"
            "process_virtual_memory_bytes 40960\n");
}

TEST(ProcessCollectorLiveTest, ReadsThisProcess) {
  MetricsRegistry r;
  r.AddCollector(std::make_unique<ProcessCollector>());
  std::vector<MetricFamilySnapshot> fams = r.Collect();
  std::map<std::string, double> v;
  for (const auto& f : fams) v[f.name] = f.samples.at(0).value;
  ASSERT_EQ(v.size(), 6u) << r.Render();
  EXPECT_GT(v["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GE(v["process_virtual_memory_bytes"], v["process_resident_memory_bytes"]);
  EXPECT_GE(v["process_open_fds"], 3);
  EXPECT_GT(v["process_max_fds"], v["process_open_fds"]);
  EXPECT_GT(v["process_start_time_seconds"], 1.5e9);
  EXPECT_GE(v["process_cpu_seconds_total"], 0);
}

}  // namespace
}  // namespace weir::runtime
