// Structured logging: a message plus key-value fields, written one line per
// entry as text (logfmt: ts=... level=info msg=... key=value) or JSON (one
// object per line), with timestamps from the injected Clock.
//
//   Logger log({.format = LogFormat::kJson, .level = LogLevel::kInfo});
//   log.Info("reconciled", {{"batch", "ns/name"}, {"phase", "Running"}, {"attempt", 2}});
//   Logger batch_log = log.With({{"controller", "batch"}});  // fixed fields
//
// Ownership: a Logger is a cheap handle; copies and With() children share the
// sink, its lock and the level. The Clock must outlive every handle.
// Thread-safety: all methods are safe for concurrent use; each entry reaches
// the sink as one Write() call, never interleaved with another.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace weir::runtime {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kText, kJson };

// "debug", "info", "warning", "error".
absl::string_view LogLevelName(LogLevel level);
// Parses a level name (also "warn"); false if unknown.
bool ParseLogLevel(absl::string_view name, LogLevel* level);
// Parses "text" or "json".
bool ParseLogFormat(absl::string_view name, LogFormat* format);

// Receives complete lines (with the trailing '\n').
// Thread-safety: Write is called under the logger's lock, one at a time.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Write(absl::string_view line) = 0;
};

// Writes to stderr, unbuffered.
class StderrSink final : public LogSink {
 public:
  void Write(absl::string_view line) override;
};

// One key-value pair. Values keep their type in JSON (string, integer,
// double, bool); durations and statuses are rendered as strings. A field
// named like a reserved key (ts, level, msg) is written as _ts, _level, _msg.
struct LogField {
  using Value = std::variant<std::string, int64_t, double, bool>;

  LogField(absl::string_view k, absl::string_view v) : key(k), value(std::string(v)) {}
  LogField(absl::string_view k, const char* v) : key(k), value(std::string(v)) {}
  LogField(absl::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(absl::string_view k, int v) : key(k), value(int64_t{v}) {}
  LogField(absl::string_view k, long v) : key(k), value(int64_t{v}) {}
  LogField(absl::string_view k, long long v) : key(k), value(int64_t{v}) {}
  LogField(absl::string_view k, unsigned v) : key(k), value(int64_t{v}) {}
  LogField(absl::string_view k, unsigned long v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(absl::string_view k, double v) : key(k), value(v) {}
  LogField(absl::string_view k, bool v) : key(k), value(v) {}
  LogField(absl::string_view k, absl::Duration v);
  LogField(absl::string_view k, const absl::Status& v);

  std::string key;
  Value value;
};

class Logger {
 public:
  struct Options {
    LogFormat format = LogFormat::kText;
    LogLevel level = LogLevel::kInfo;
    Clock* clock = nullptr;         // RealClock if null; not owned
    std::shared_ptr<LogSink> sink;  // StderrSink if null
  };

  explicit Logger(Options options);
  Logger() : Logger(Options()) {}

  // Writes an entry if `level` is enabled. Fields given here follow the
  // logger's fixed fields.
  void Log(LogLevel level, absl::string_view msg,
           std::initializer_list<LogField> fields = {}) const;
  void Log(LogLevel level, absl::string_view msg, const std::vector<LogField>& fields) const;
  void Debug(absl::string_view msg, std::initializer_list<LogField> fields = {}) const {
    Log(LogLevel::kDebug, msg, fields);
  }
  void Info(absl::string_view msg, std::initializer_list<LogField> fields = {}) const {
    Log(LogLevel::kInfo, msg, fields);
  }
  void Warning(absl::string_view msg, std::initializer_list<LogField> fields = {}) const {
    Log(LogLevel::kWarning, msg, fields);
  }
  void Error(absl::string_view msg, std::initializer_list<LogField> fields = {}) const {
    Log(LogLevel::kError, msg, fields);
  }

  // A logger that adds `fields` to every entry (after this logger's own).
  Logger With(std::initializer_list<LogField> fields) const;

  bool Enabled(LogLevel level) const;
  // Changes the level for this logger and every handle sharing its sink.
  void SetLevel(LogLevel level) const;

  // Formats one entry without writing it (exposed for tests and reuse).
  static std::string FormatEntry(LogFormat format, absl::Time ts, LogLevel level,
                                 absl::string_view msg, const std::vector<LogField>& fields);

 private:
  struct Shared {
    LogFormat format;
    Clock* clock;
    std::shared_ptr<LogSink> sink;
    std::atomic<int> level;
    absl::Mutex mu;  // serializes sink writes
  };
  Logger(std::shared_ptr<Shared> shared, std::vector<LogField> fields)
      : shared_(std::move(shared)), fields_(std::move(fields)) {}

  std::shared_ptr<Shared> shared_;
  std::vector<LogField> fields_;  // fixed fields of this handle
};

}  // namespace weir::runtime
