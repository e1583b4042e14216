#include "api/meta.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "api/json_fields.h"

namespace weir::api {

using json = nlohmann::json;

namespace {

std::map<std::string, std::string> StringMap(const json& object, absl::string_view key) {
  std::map<std::string, std::string> out;
  const json* m = internal::Member(object, key);
  if (m == nullptr || !m->is_object()) return out;
  for (auto it = m->begin(); it != m->end(); ++it) {
    if (it->is_string()) out.emplace(it.key(), it->get<std::string>());
  }
  return out;
}

}  // namespace

ObjectMeta ParseObjectMeta(const json& object) {
  ObjectMeta meta;
  const json* m = internal::Member(object, "metadata");
  if (m == nullptr || !m->is_object()) return meta;
  meta.name = internal::StringOr(*m, "name");
  meta.namespace_name = internal::StringOr(*m, "namespace");
  meta.uid = internal::StringOr(*m, "uid");
  meta.resource_version = internal::StringOr(*m, "resourceVersion");
  meta.generation = internal::Int64Or(*m, "generation");
  meta.creation_timestamp = internal::OptionalTime(*m, "creationTimestamp");
  meta.deletion_timestamp = internal::OptionalTime(*m, "deletionTimestamp");
  if (const json* f = internal::Member(*m, "finalizers"); f != nullptr && f->is_array()) {
    for (const json& item : *f) {
      if (item.is_string()) meta.finalizers.push_back(item.get<std::string>());
    }
  }
  meta.labels = StringMap(*m, "labels");
  meta.annotations = StringMap(*m, "annotations");
  return meta;
}

bool HasFinalizer(const ObjectMeta& meta, absl::string_view finalizer) {
  return std::any_of(meta.finalizers.begin(), meta.finalizers.end(),
                     [&](const std::string& f) { return f == finalizer; });
}

namespace {

// The times RFC 3339 can write: years 0001-9999.
const absl::Time kMinRfc3339 = absl::FromCivil(absl::CivilSecond(1, 1, 1), absl::UTCTimeZone());
const absl::Time kMaxRfc3339 =
    absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone());

}  // namespace

std::string FormatRfc3339(absl::Time t) {
  t = std::clamp(t, kMinRfc3339, kMaxRfc3339);
  return absl::FormatTime("%E4Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::optional<absl::Time> ParseRfc3339(absl::string_view text) {
  // absl::ParseTime takes std::string-compatible input and would also accept
  // surrounding blanks, which RFC 3339 does not.
  if (text.empty() || absl::ascii_isspace(static_cast<unsigned char>(text.front())) ||
      absl::ascii_isspace(static_cast<unsigned char>(text.back()))) {
    return std::nullopt;
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) return std::nullopt;
  // Outside years 0001-9999 (absl takes any number of year digits, and the
  // words infinite-future and infinite-past), a time could not be written
  // back as read: a status holding it would differ from its stored copy on
  // every reconcile and be written again and again.
  if (t < kMinRfc3339 || t >= kMaxRfc3339 + absl::Seconds(1)) return std::nullopt;
  return t;
}

}  // namespace weir::api
