#include "runtime/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace weir::runtime {
namespace {

bool ValidMetricName(absl::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool ok =
        absl::ascii_isalpha(c) || c == '_' || c == ':' || (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

bool ValidLabelName(absl::string_view n) {
  if (n.empty() || absl::StartsWith(n, "__")) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    if (!(absl::ascii_isalpha(c) || c == '_' || (i > 0 && absl::ascii_isdigit(c)))) return false;
  }
  return true;
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// HELP text escapes backslash and newline; label values also escape '"'.
void AppendEscaped(std::string& out, absl::string_view s, bool quote) {
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '"':
        out += quote ? "\\\"" : "\"";
        break;
      default:
        out += c;
    }
  }
}

void AtomicAdd(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

}  // namespace

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

std::string RenderTextFormat(const std::vector<MetricFamilySnapshot>& families) {
  std::string out;
  for (const MetricFamilySnapshot& f : families) {
    absl::StrAppend(&out, "# HELP ", f.name, " ");
    AppendEscaped(out, f.help, /*quote=*/false);
    absl::StrAppend(&out, "\n# TYPE ", f.name, " ", TypeName(f.type), "\n");
    for (const MetricSample& s : f.samples) {
      absl::StrAppend(&out, f.name, s.suffix);
      if (!s.labels.empty()) {
        out += '{';
        for (size_t i = 0; i < s.labels.size(); ++i) {
          if (i > 0) out += ',';
          absl::StrAppend(&out, s.labels[i].first, "=\"");
          AppendEscaped(out, s.labels[i].second, /*quote=*/true);
          out += '"';
        }
        out += '}';
      }
      absl::StrAppend(&out, " ", FormatMetricValue(s.value), "\n");
    }
  }
  return out;
}

void Counter::Inc(double v) {
  if (v > 0) AtomicAdd(value_, v);
}

void Gauge::Add(double v) { AtomicAdd(value_, v); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}

void Histogram::Observe(double v) {
  // Bucket i counts bounds_[i-1] < v <= bounds_[i]; beyond the last bound
  // only the total (+Inf) counts it.
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  absl::MutexLock l(&mu_);
  if (i < counts_.size()) counts_[i]++;
  count_++;
  sum_ += v;
}

Histogram::Snapshot Histogram::Get() const {
  Snapshot s;
  s.bounds = bounds_;
  absl::MutexLock l(&mu_);
  s.cumulative.resize(counts_.size());
  uint64_t acc = 0;
  for (size_t i = 0; i < counts_.size(); ++i) s.cumulative[i] = acc += counts_[i];
  s.count = count_;
  s.sum = sum_;
  return s;
}

std::vector<double> DefaultBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  if (start <= 0 || factor <= 1 || count < 1) {
    throw std::invalid_argument("ExponentialBuckets: need start > 0, factor > 1, count >= 1");
  }
  std::vector<double> b;
  for (int i = 0; i < count; ++i, start *= factor) b.push_back(start);
  return b;
}

template <typename M>
MetricFamily<M>::MetricFamily(std::string name, std::string help, MetricType type,
                              std::vector<std::string> label_names, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

template <typename M>
M& MetricFamily<M>::WithLabelValues(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(
        absl::StrCat(name_, ": got ", values.size(), " label values, want ", label_names_.size()));
  }
  absl::MutexLock l(&mu_);
  auto it = children_.find(values);
  if (it != children_.end()) return *it->second;
  std::unique_ptr<M> child;
  if constexpr (std::is_same_v<M, Histogram>) {
    child = std::make_unique<Histogram>(bounds_);
  } else {
    child = std::make_unique<M>();
  }
  return *children_.emplace(values, std::move(child)).first->second;
}

template <typename M>
void MetricFamily<M>::Collect(std::vector<MetricFamilySnapshot>& out) const {
  MetricFamilySnapshot f{name_, help_, type_, {}};
  absl::MutexLock l(&mu_);
  for (const auto& [values, child] : children_) {
    Labels labels;
    for (size_t i = 0; i < values.size(); ++i) labels.emplace_back(label_names_[i], values[i]);
    if constexpr (std::is_same_v<M, Histogram>) {
      const Histogram::Snapshot s = child->Get();
      for (size_t i = 0; i < s.bounds.size(); ++i) {
        Labels with_le = labels;
        with_le.emplace_back("le", FormatMetricValue(s.bounds[i]));
        f.samples.push_back({"_bucket", std::move(with_le), static_cast<double>(s.cumulative[i])});
      }
      Labels inf = labels;
      inf.emplace_back("le", "+Inf");
      f.samples.push_back({"_bucket", std::move(inf), static_cast<double>(s.count)});
      f.samples.push_back({"_sum", labels, s.sum});
      f.samples.push_back({"_count", std::move(labels), static_cast<double>(s.count)});
    } else {
      f.samples.push_back({"", std::move(labels), child->Value()});
    }
  }
  out.push_back(std::move(f));
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

Collector* MetricsRegistry::AddFamily(absl::string_view name, absl::string_view help,
                                      MetricType type, std::vector<std::string> label_names,
                                      std::vector<double> bounds) {
  if (!ValidMetricName(name)) throw std::invalid_argument(absl::StrCat("bad metric name ", name));
  for (const std::string& l : label_names) {
    if (!ValidLabelName(l) || (type == MetricType::kHistogram && l == "le")) {
      throw std::invalid_argument(absl::StrCat(name, ": bad label name ", l));
    }
  }
  if (type == MetricType::kHistogram) {
    for (size_t i = 0; i < bounds.size(); ++i) {
      if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
        throw std::invalid_argument(absl::StrCat(name, ": buckets must be finite, increasing"));
      }
    }
  }
  absl::MutexLock l(&mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    const Entry& e = it->second;
    if (e.type != type || e.label_names != label_names || e.bounds != bounds) {
      throw std::invalid_argument(absl::StrCat(name, " is already registered differently"));
    }
    return e.family.get();
  }
  std::unique_ptr<Collector> family;
  std::string n(name), h(help);
  switch (type) {
    case MetricType::kCounter:
      family.reset(new CounterFamily(n, h, type, label_names, {}));
      break;
    case MetricType::kGauge:
      family.reset(new GaugeFamily(n, h, type, label_names, {}));
      break;
    case MetricType::kHistogram:
      family.reset(new HistogramFamily(n, h, type, label_names, bounds));
      break;
  }
  Collector* raw = family.get();
  families_.emplace(n, Entry{type, std::move(label_names), std::move(bounds), std::move(family)});
  return raw;
}

CounterFamily& MetricsRegistry::AddCounter(absl::string_view name, absl::string_view help,
                                           std::vector<std::string> label_names) {
  return *static_cast<CounterFamily*>(
      AddFamily(name, help, MetricType::kCounter, std::move(label_names), {}));
}

GaugeFamily& MetricsRegistry::AddGauge(absl::string_view name, absl::string_view help,
                                       std::vector<std::string> label_names) {
  return *static_cast<GaugeFamily*>(
      AddFamily(name, help, MetricType::kGauge, std::move(label_names), {}));
}

HistogramFamily& MetricsRegistry::AddHistogram(absl::string_view name, absl::string_view help,
                                               std::vector<std::string> label_names,
                                               std::vector<double> bounds) {
  return *static_cast<HistogramFamily*>(
      AddFamily(name, help, MetricType::kHistogram, std::move(label_names), std::move(bounds)));
}

void MetricsRegistry::AddCollector(std::unique_ptr<Collector> collector) {
  absl::MutexLock l(&mu_);
  collectors_.push_back(std::move(collector));
}

std::vector<MetricFamilySnapshot> MetricsRegistry::Collect() const {
  std::vector<MetricFamilySnapshot> out;
  absl::MutexLock l(&mu_);
  for (const auto& [name, entry] : families_) entry.family->Collect(out);
  for (const auto& c : collectors_) c->Collect(out);
  return out;
}

// ---- ProcessCollector ------------------------------------------------------

namespace {

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

void AddGaugeFamily(std::vector<MetricFamilySnapshot>& out, const char* name, const char* help,
                    MetricType type, double v) {
  out.push_back({name, help, type, {{"", {}, v}}});
}

}  // namespace

ProcessCollector::ProcessCollector(Options options) : options_(std::move(options)) {
  if (options_.clock_ticks <= 0) options_.clock_ticks = sysconf(_SC_CLK_TCK);
  if (options_.page_size <= 0) options_.page_size = sysconf(_SC_PAGESIZE);
}

void ProcessCollector::Collect(std::vector<MetricFamilySnapshot>& out) const {
  const double ticks = static_cast<double>(options_.clock_ticks);
  std::string text;
  // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and
  // parentheses, so split after the last ')'. Field 3 (state) is index 0.
  if (ReadFile(options_.self_dir + "/stat", &text)) {
    const size_t close = text.rfind(')');
    if (close != std::string::npos) {
      std::vector<absl::string_view> f =
          absl::StrSplit(absl::string_view(text).substr(close + 1), ' ', absl::SkipEmpty());
      uint64_t utime, stime, start;
      if (f.size() > 19 && absl::SimpleAtoi(f[11], &utime) && absl::SimpleAtoi(f[12], &stime)) {
        AddGaugeFamily(out, "process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.", MetricType::kCounter,
                       static_cast<double>(utime + stime) / ticks);
      }
      std::string stat;
      if (f.size() > 19 && absl::SimpleAtoi(f[19], &start) && ReadFile(options_.proc_stat, &stat)) {
        for (absl::string_view line : absl::StrSplit(stat, '\n')) {
          uint64_t btime;
          if (absl::ConsumePrefix(&line, "btime ") && absl::SimpleAtoi(line, &btime)) {
            AddGaugeFamily(out, "process_start_time_seconds",
                           "Start time of the process since unix epoch in seconds.",
                           MetricType::kGauge, static_cast<double>(btime) + start / ticks);
          }
        }
      }
    }
  }
  // /proc/<pid>/statm: size resident shared ... in pages.
  if (ReadFile(options_.self_dir + "/statm", &text)) {
    std::vector<absl::string_view> f = absl::StrSplit(text, ' ', absl::SkipEmpty());
    uint64_t size, resident;
    if (f.size() >= 2 && absl::SimpleAtoi(f[0], &size) &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(f[1]), &resident)) {
      const double page = static_cast<double>(options_.page_size);
      AddGaugeFamily(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
                     MetricType::kGauge, resident * page);
      AddGaugeFamily(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                     MetricType::kGauge, size * page);
    }
  }
  if (DIR* dir = opendir((options_.self_dir + "/fd").c_str())) {
    // Counting the live /proc/self/fd opens one more fd, which is not one
    // of the process's own: skip it.
    const std::string own =
        options_.self_dir == "/proc/self" ? std::to_string(dirfd(dir)) : std::string();
    int n = 0;
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] != '.' && e->d_name != own) ++n;
    }
    closedir(dir);
    AddGaugeFamily(out, "process_open_fds", "Number of open file descriptors.", MetricType::kGauge,
                   n);
  }
  // /proc/<pid>/limits: "Max open files   <soft>   <hard>   files".
  if (ReadFile(options_.self_dir + "/limits", &text)) {
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (!absl::ConsumePrefix(&line, "Max open files")) continue;
      std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      uint64_t soft;
      if (!f.empty() && absl::SimpleAtoi(f[0], &soft)) {
        AddGaugeFamily(out, "process_max_fds", "Maximum number of open file descriptors.",
                       MetricType::kGauge, static_cast<double>(soft));
      }
    }
  }
}

}  // namespace weir::runtime
