// A small Prometheus metrics registry: counters, gauges and histograms, each
// a family of children keyed by label values (e.g.
// weir_reconcile_total{controller="batch",result="error"}), rendered in the
// Prometheus text exposition format 0.0.4. A ProcessCollector adds the
// standard process_* metrics read from /proc.
//
// Usage:
//   MetricsRegistry registry;
//   CounterFamily& total = registry.AddCounter(
//       "weir_reconcile_total", "Reconciles by result.", {"controller", "result"});
//   Counter& errors = total.WithLabelValues({"batch", "error"});  // cache it
//   errors.Inc();
//   std::string body = registry.Render();
//
// Ownership: the registry owns its families and a family its children;
// references returned stay valid for the registry's lifetime.
// Thread-safety: everything is safe for concurrent use. Counter/Gauge
// updates are lock-free; a histogram takes a short per-child lock.
// Errors: an invalid metric or label name, a label-count mismatch or
// re-registering a name with a different type/labels is a programming error
// and throws std::invalid_argument.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace weir::runtime {

// Content type of Render()'s output.
inline constexpr char kPrometheusTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// ---- Exposition data model -------------------------------------------------

enum class MetricType { kCounter, kGauge, kHistogram };

using Labels = std::vector<std::pair<std::string, std::string>>;

struct MetricSample {
  std::string suffix;  // "", "_bucket", "_sum", "_count"
  Labels labels;
  double value = 0;
};

struct MetricFamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<MetricSample> samples;
};

// Renders families in text format 0.0.4: "# HELP", "# TYPE", then one line
// per sample; label values and help text escaped as the format requires.
std::string RenderTextFormat(const std::vector<MetricFamilySnapshot>& families);
// Formats a sample value: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
std::string FormatMetricValue(double v);

// Anything that contributes families at scrape time.
class Collector {
 public:
  virtual ~Collector() = default;
  virtual void Collect(std::vector<MetricFamilySnapshot>& out) const = 0;
};

// ---- Metric children -------------------------------------------------------

class Counter {
 public:
  // REQUIRES: v >= 0 (negative increments are ignored).
  void Inc(double v = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v);
  void Inc() { Add(1); }
  void Dec() { Add(-1); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // REQUIRES: `bounds` strictly increasing, finite.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound: observations <= bound
    uint64_t count = 0;                // all observations (the +Inf bucket)
    double sum = 0;
  };
  Snapshot Get() const;

 private:
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);  // non-cumulative
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
};

// Prometheus' default buckets, .005 .. 10 (seconds).
std::vector<double> DefaultBuckets();
// `count` bounds: start, start*factor, ... REQUIRES: start > 0, factor > 1.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// ---- Families --------------------------------------------------------------

// A named metric with fixed label names and one child per label-value set.
template <typename M>
class MetricFamily final : public Collector {
 public:
  // Returns the child for `values`, creating it on first use.
  // REQUIRES: values.size() == label names' size (else invalid_argument).
  M& WithLabelValues(const std::vector<std::string>& values);
  // The single child of a family without labels.
  M& Get() { return WithLabelValues({}); }

  const std::string& name() const { return name_; }
  void Collect(std::vector<MetricFamilySnapshot>& out) const override;

 private:
  friend class MetricsRegistry;
  MetricFamily(std::string name, std::string help, MetricType type,
               std::vector<std::string> label_names, std::vector<double> bounds);

  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histograms only
  mutable absl::Mutex mu_;
  // Ordered so the exposition is deterministic.
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registering an existing name with the same type and label names (and
  // buckets) returns the existing family.
  CounterFamily& AddCounter(absl::string_view name, absl::string_view help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(absl::string_view name, absl::string_view help,
                        std::vector<std::string> label_names = {});
  HistogramFamily& AddHistogram(absl::string_view name, absl::string_view help,
                                std::vector<std::string> label_names,
                                std::vector<double> bounds = DefaultBuckets());
  void AddCollector(std::unique_ptr<Collector> collector);

  // All families (registered ones sorted by name, then collectors in
  // registration order).
  std::vector<MetricFamilySnapshot> Collect() const;
  std::string Render() const { return RenderTextFormat(Collect()); }

 private:
  struct Entry {
    MetricType type;
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    std::unique_ptr<Collector> family;
  };
  Collector* AddFamily(absl::string_view name, absl::string_view help, MetricType type,
                       std::vector<std::string> label_names, std::vector<double> bounds);

  mutable absl::Mutex mu_;
  std::map<std::string, Entry, std::less<>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Collector>> collectors_ ABSL_GUARDED_BY(mu_);
};

// The standard process metrics: process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_start_time_seconds, process_open_fds, process_max_fds. A value
// whose source cannot be read is left out. Paths and units are injectable
// for tests.
class ProcessCollector final : public Collector {
 public:
  struct Options {
    std::string self_dir = "/proc/self";   // holds stat, statm, fd/, limits
    std::string proc_stat = "/proc/stat";  // holds btime
    long clock_ticks = 0;                  // 0: sysconf(_SC_CLK_TCK)
    long page_size = 0;                    // 0: sysconf(_SC_PAGESIZE)
  };
  ProcessCollector() : ProcessCollector(Options()) {}
  explicit ProcessCollector(Options options);
  void Collect(std::vector<MetricFamilySnapshot>& out) const override;

 private:
  Options options_;
};

}  // namespace weir::runtime
