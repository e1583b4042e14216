// Quantity is a Kubernetes resource quantity (resource.Quantity): the
// `512Mi`, `2Gi`, `500m`, `1e3` strings of resources.limits/requests and of
// weir's own fields such as retry.onOOM.maxMemory.
//
// Contract:
// - Parse accepts the Kubernetes grammar: an optional sign, a decimal number
//   (`1`, `1.5`, `1.`, `.5`), then one suffix: binary SI (Ki Mi Gi Ti Pi Ei),
//   decimal SI (n u m "" k M G T P E) or a decimal exponent (`e3`, `E-2`).
//   Anything else (blanks, `1K`, `1.5.5`, `Gi`) is InvalidArgument naming the
//   input.
// - Values are exact to 1e-9 (a nano unit). Finer digits round up, away from
//   zero, as Kubernetes does ("if you ask for some, you get some").
// - Magnitudes above 2^63-1 units are OutOfRange. (Kubernetes silently caps
//   them; weir refuses, so a typo such as `8Ei0` is not taken for 8 exabytes.)
//   At most 38 significant digits are accepted (20 with a binary suffix);
//   Kubernetes takes more, but no real quantity needs them.
// - A Quantity remembers the suffix family of its input (its Format).
//   ToString() writes the canonical form Kubernetes would write for that
//   family: BinarySI uses the largest power of 1024 that divides the value
//   (1073741824 -> `1Gi`, 1536Mi stays `1536Mi`) and falls back to DecimalSI
//   when the value is below 1024 or not a whole number (`0.5Ki` -> `512`);
//   DecimalSI uses the largest power of 1000 that leaves an integer mantissa
//   (1500000000 -> `1500M`, 0.5 -> `500m`, 1000 -> `1k`); DecimalExponent
//   writes that exponent as `e<n>` (`1e3`, `100e-3`). Zero is `0`.
// - Equality and ordering compare values only: `1Gi` == `1073741824`.
//
// Quantity is a small value type; copy it freely. Thread-compatible.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace weir::api {

class Quantity {
 public:
  // The suffix family a quantity is written in.
  enum class Format { kDecimalSI, kBinarySI, kDecimalExponent };

  // Zero, DecimalSI.
  Quantity() = default;

  // Parses `text`; see the contract above.
  static absl::StatusOr<Quantity> Parse(absl::string_view text);

  // `units` whole units (bytes, cores), written in `format`.
  static Quantity FromUnits(int64_t units, Format format = Format::kDecimalSI);
  // `milli_units` thousandths of a unit (millicores), written in `format`.
  static Quantity FromMilliUnits(int64_t milli_units, Format format = Format::kDecimalSI);

  // The value in whole units (e.g. bytes), rounded up away from zero, as
  // Kubernetes' Quantity.Value(). Always fits: magnitudes are < 2^63.
  int64_t Value() const;
  // The value in thousandths, rounded up away from zero; saturates at the
  // int64 limits for magnitudes above ~9.2e15 units.
  int64_t MilliValue() const;

  Format format() const { return format_; }
  // -1, 0 or 1.
  int Sign() const;
  bool IsZero() const { return nanos_ == 0; }
  // True if the value is a whole number of units.
  bool IsInteger() const;

  // The same value written in another suffix family.
  Quantity WithFormat(Format format) const;

  // The value times `factor`, exact except that `factor` is taken to 1e-9
  // (1.1 means 1.100000000) and the product is rounded up away from zero to a
  // nano unit. Keeps this quantity's format. InvalidArgument if `factor` is not
  // finite; OutOfRange if the product's magnitude exceeds 2^63-1 units.
  absl::StatusOr<Quantity> Multiply(double factor) const;

  // The value rounded up (toward +infinity) to a whole unit. Never fails:
  // magnitudes stay below 2^63 units.
  Quantity CeilToUnit() const;

  // The canonical Kubernetes form; see the contract above.
  std::string ToString() const;

  friend bool operator==(const Quantity& a, const Quantity& b) { return a.nanos_ == b.nanos_; }
  friend std::strong_ordering operator<=>(const Quantity& a, const Quantity& b) {
    return a.nanos_ <=> b.nanos_;
  }

 private:
  Quantity(__int128 nanos, Format format) : nanos_(nanos), format_(format) {}

  __int128 nanos_ = 0;  // the value in units of 1e-9
  Format format_ = Format::kDecimalSI;
};

std::ostream& operator<<(std::ostream& os, const Quantity& q);

// The next memory setting after an OOM kill: `current` x `factor`, rounded up
// to a whole byte, then capped at `cap` if given. Keeps `current`'s format.
// InvalidArgument if `factor` is not finite or below 1, or `current` is
// negative; a product too large to represent is capped (or OutOfRange when
// there is no cap).
absl::StatusOr<Quantity> ScaleMemory(const Quantity& current, double factor,
                                     const std::optional<Quantity>& cap);

}  // namespace weir::api
