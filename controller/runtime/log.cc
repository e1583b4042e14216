#include "runtime/log.h"

#include <unistd.h>

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "runtime/metrics.h"

namespace weir::runtime {
namespace {

std::string FormatTimestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

// logfmt: bare if the value is non-empty and has only printable ASCII other
// than space, '"', '=' and '\\'; otherwise quoted with escapes.
void AppendTextValue(std::string& out, absl::string_view v) {
  bool bare = !v.empty();
  for (unsigned char c : v) {
    if (c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\') {
      bare = false;
      break;
    }
  }
  if (bare) {
    out.append(v.data(), v.size());
    return;
  }
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\x%02x", c);
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through
        }
    }
  }
  out += '"';
}

// Keys are written as given but must stay one logfmt token.
void AppendTextKey(std::string& out, absl::string_view k) {
  if (k.empty()) {
    out += "_";
    return;
  }
  for (unsigned char c : k) {
    out += (c <= ' ' || c >= 0x7f || c == '"' || c == '=') ? '_' : static_cast<char>(c);
  }
}

std::string FieldKey(const std::string& k) {
  return (k == "ts" || k == "level" || k == "msg") ? "_" + k : k;
}

std::string ValueText(const LogField::Value& v) {
  struct Visitor {
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(int64_t i) const { return absl::StrCat(i); }
    std::string operator()(double d) const { return FormatMetricValue(d); }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
  };
  return std::visit(Visitor{}, v);
}

nlohmann::ordered_json ValueJson(const LogField::Value& v) {
  struct Visitor {
    nlohmann::ordered_json operator()(const std::string& s) const { return s; }
    nlohmann::ordered_json operator()(int64_t i) const { return i; }
    nlohmann::ordered_json operator()(double d) const {
      // JSON has no NaN/Inf: write them as strings rather than null.
      if (!std::isfinite(d)) return FormatMetricValue(d);
      return d;
    }
    nlohmann::ordered_json operator()(bool b) const { return b; }
  };
  return std::visit(Visitor{}, v);
}

}  // namespace

LogField::LogField(absl::string_view k, absl::Duration v)
    : key(k), value(absl::FormatDuration(v)) {}

LogField::LogField(absl::string_view k, const absl::Status& v) : key(k), value(v.ToString()) {}

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

bool ParseLogLevel(absl::string_view name, LogLevel* level) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "debug") {
    *level = LogLevel::kDebug;
  } else if (n == "info") {
    *level = LogLevel::kInfo;
  } else if (n == "warning" || n == "warn") {
    *level = LogLevel::kWarning;
  } else if (n == "error") {
    *level = LogLevel::kError;
  } else {
    return false;
  }
  return true;
}

bool ParseLogFormat(absl::string_view name, LogFormat* format) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "text") {
    *format = LogFormat::kText;
  } else if (n == "json") {
    *format = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

void StderrSink::Write(absl::string_view line) {
  // A single write(2) keeps lines whole even when other code writes to
  // stderr too.
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(2, line.data() + done, line.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

Logger::Logger(Options options) : shared_(std::make_shared<Shared>()) {
  shared_->format = options.format;
  shared_->clock = options.clock != nullptr ? options.clock : &RealClock::Get();
  shared_->sink =
      options.sink != nullptr ? std::move(options.sink) : std::make_shared<StderrSink>();
  shared_->level.store(static_cast<int>(options.level));
}

bool Logger::Enabled(LogLevel level) const {
  return static_cast<int>(level) >= shared_->level.load(std::memory_order_relaxed);
}

void Logger::SetLevel(LogLevel level) const { shared_->level.store(static_cast<int>(level)); }

Logger Logger::With(std::initializer_list<LogField> fields) const {
  std::vector<LogField> all = fields_;
  all.insert(all.end(), fields.begin(), fields.end());
  return Logger(shared_, std::move(all));
}

void Logger::Log(LogLevel level, absl::string_view msg,
                 std::initializer_list<LogField> fields) const {
  if (!Enabled(level)) return;
  if (fields_.empty()) {
    Log(level, msg, std::vector<LogField>(fields));
    return;
  }
  std::vector<LogField> all = fields_;
  all.insert(all.end(), fields.begin(), fields.end());
  Log(level, msg, all);
}

void Logger::Log(LogLevel level, absl::string_view msg, const std::vector<LogField>& fields) const {
  if (!Enabled(level)) return;
  const std::string line = FormatEntry(shared_->format, shared_->clock->Now(), level, msg, fields);
  absl::MutexLock l(&shared_->mu);
  shared_->sink->Write(line);
}

std::string Logger::FormatEntry(LogFormat format, absl::Time ts, LogLevel level,
                                absl::string_view msg, const std::vector<LogField>& fields) {
  if (format == LogFormat::kJson) {
    nlohmann::ordered_json j;
    j["ts"] = FormatTimestamp(ts);
    j["level"] = LogLevelName(level);
    j["msg"] = std::string(msg);
    for (const LogField& f : fields) j[FieldKey(f.key)] = ValueJson(f.value);
    // Invalid UTF-8 is replaced rather than throwing out of a log call.
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  }
  std::string out =
      absl::StrCat("ts=", FormatTimestamp(ts), " level=", LogLevelName(level), " msg=");
  AppendTextValue(out, msg);
  for (const LogField& f : fields) {
    out += ' ';
    AppendTextKey(out, FieldKey(f.key));
    out += '=';
    AppendTextValue(out, ValueText(f.value));
  }
  out += '\n';
  return out;
}

}  // namespace weir::runtime
