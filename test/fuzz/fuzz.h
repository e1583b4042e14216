// What the fuzz targets share: reading the input as JSON, and checks whose
// failure is a libFuzzer crash (the property, the input and a message), so a
// broken contract is found like a memory error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace weir::fuzz {

inline absl::string_view AsText(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// The input as a JSON document, or nullopt if it is not JSON (nlohmann's
// parser is not under test; what weir does with a document is).
inline std::optional<nlohmann::json> ParseJson(const uint8_t* data, size_t size) {
  nlohmann::json doc = nlohmann::json::parse(AsText(data, size), nullptr,
                                             /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::nullopt;
  return doc;
}

// Aborts, which libFuzzer reports as a crash, unless `ok`.
inline void Check(bool ok, absl::string_view what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz check failed: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

// weir's contract for bad input: InvalidArgument "<field path>: <reason>",
// the path under `root` (e.g. "spec").
inline void CheckFieldError(const absl::Status& status, absl::string_view root) {
  Check(status.code() == absl::StatusCode::kInvalidArgument, status.ToString());
  Check(absl::StartsWith(status.message(), root) && absl::StrContains(status.message(), ": "),
        status.ToString());
}

}  // namespace weir::fuzz
