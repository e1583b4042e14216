// ObjectMeta: the parts of a Kubernetes object's metadata weir's reconcilers
// read, and the RFC 3339 time format every weir status uses.
//
// Contract:
// - ParseObjectMeta never fails and never throws: a missing or mistyped field
//   reads as its default (an unparsable timestamp as unset; non-string
//   finalizers, labels and annotations are skipped).
// - Times are written as RFC 3339 in UTC with second precision
//   (`2026-11-25T12:00:00Z`), as metav1.Time does; fractions are truncated.
//   ParseRfc3339 accepts any RFC 3339 date-time (fractions, offsets).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace weir::api {

struct ObjectMeta {
  std::string name, namespace_name, uid, resource_version;
  int64_t generation = 0;
  std::optional<absl::Time> creation_timestamp, deletion_timestamp;
  std::vector<std::string> finalizers;
  std::map<std::string, std::string> labels, annotations;

  bool operator==(const ObjectMeta&) const = default;
};

// Reads `object["metadata"]` (`object` is the whole Kubernetes object).
ObjectMeta ParseObjectMeta(const nlohmann::json& object);

// True if `meta` lists `finalizer`.
bool HasFinalizer(const ObjectMeta& meta, absl::string_view finalizer);

// `t` as `2026-11-25T12:00:00Z` (UTC, whole seconds, truncated toward the
// past). Infinite times, and times outside years 0001-9999, are clamped to
// that range so the result always is a valid RFC 3339 date-time.
std::string FormatRfc3339(absl::Time t);
// Parses an RFC 3339 date-time; std::nullopt if `text` is not one, or is
// outside years 0001-9999 (what FormatRfc3339 writes), so every time read
// can be written back unchanged (up to its fraction).
std::optional<absl::Time> ParseRfc3339(absl::string_view text);

}  // namespace weir::api
