#include "kube/watch_decoder.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "kube/errors.h"

namespace weir::kube {

namespace {

absl::Status DecodeLine(absl::string_view text, WatchEvent* event) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("type") || !parsed["type"].is_string()) {
    return absl::InternalError(absl::StrCat("malformed watch event: ", text.substr(0, 200)));
  }
  const std::string& type = parsed["type"].get_ref<const std::string&>();
  if (type == "ADDED") {
    event->type = EventType::kAdded;
  } else if (type == "MODIFIED") {
    event->type = EventType::kModified;
  } else if (type == "DELETED") {
    event->type = EventType::kDeleted;
  } else if (type == "BOOKMARK") {
    event->type = EventType::kBookmark;
  } else if (type == "ERROR") {
    event->type = EventType::kError;
  } else {
    return absl::InternalError(absl::StrCat("unknown watch event type \"", type, "\""));
  }
  event->object = parsed.contains("object") ? std::move(parsed["object"]) : nlohmann::json();
  event->error =
      event->type == EventType::kError ? StatusFromStatusObject(event->object) : absl::OkStatus();
  return absl::OkStatus();
}

}  // namespace

void WatchDecoder::Feed(absl::string_view bytes) {
  if (!status_.ok()) return;
  // Drop what was decoded before the buffer grows, so it holds at most one
  // partial line plus the new bytes.
  buffer_.erase(0, line_start_);
  scanned_ -= line_start_;
  line_start_ = 0;
  buffer_.append(bytes.data(), bytes.size());
}

void WatchDecoder::Finish() { finished_ = true; }

bool WatchDecoder::Next(WatchEvent* event) {
  while (status_.ok()) {
    size_t end = buffer_.find('\n', scanned_);
    if (end == std::string::npos) {
      scanned_ = buffer_.size();
      if (!finished_ || line_start_ == buffer_.size()) return false;
      end = buffer_.size();  // the last line, without a newline
    }
    absl::string_view line = absl::StripAsciiWhitespace(
        absl::string_view(buffer_).substr(line_start_, end - line_start_));
    line_start_ = scanned_ = std::min(end + 1, buffer_.size());
    if (line.empty()) continue;
    status_ = DecodeLine(line, event);
    return status_.ok();
  }
  return false;
}

}  // namespace weir::kube
