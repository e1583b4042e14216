// WatchDecoder turns the body of a watch response into events. The body is
// one JSON object a line ({"type": "ADDED", "object": {...}}), and it arrives
// in pieces of any size: a piece may end in the middle of a line or hold
// several lines.
//
// Contract:
// - Feed appends bytes; Next decodes the next complete line. Surrounding
//   whitespace (a \r before the \n) and blank lines are skipped.
// - Finish marks the end of the body: a last line without a newline is then
//   complete too.
// - A line that is not a JSON object with a string "type" is an
//   InternalError quoting its first 200 bytes; an unknown type is an
//   InternalError naming it. The first error is final: Next returns false
//   from then on and status() keeps it.
// - An ERROR event carries its metav1.Status as `error`
//   (StatusFromStatusObject); other events have an OK `error`.
// - Never throws, on any bytes. Splitting the same bytes differently gives
//   the same events.
//
// HttpWatchStream feeds it the bytes as cpprestsdk hands them over, in
// pieces of whatever size arrived (the HTTP chunked transfer coding already
// undone).
// Thread-compatible.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kube/client.h"

namespace weir::kube {

class WatchDecoder {
 public:
  void Feed(absl::string_view bytes);
  void Finish();

  // Stores the next event in *event and returns true; false when no complete
  // line is buffered or after an error (status() tells which).
  bool Next(WatchEvent* event);

  // OK unless the body was malformed.
  const absl::Status& status() const { return status_; }

 private:
  std::string buffer_;
  size_t line_start_ = 0;  // buffer_ before this is decoded
  size_t scanned_ = 0;     // no newline in [line_start_, scanned_)
  bool finished_ = false;
  absl::Status status_;
};

}  // namespace weir::kube
