#include "api/quantity.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace weir::api {

namespace internal {

using Int128 = __int128;
using UInt128 = unsigned __int128;

constexpr Int128 kNanosPerUnit = 1'000'000'000;
// 2^63-1 units, in nanos: the largest magnitude a Quantity holds.
constexpr Int128 kMaxNanos =
    static_cast<Int128>(std::numeric_limits<int64_t>::max()) * kNanosPerUnit;
// Significant digits accepted; chosen so that digits x 2^60 (Ei) and plain
// 38-digit decimals both fit in 127 bits.
constexpr int kMaxDecimalDigits = 38;
constexpr int kMaxBinaryDigits = 20;

// 10^n for 0 <= n <= 38.
Int128 Pow10(int n) {
  Int128 r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

std::string ToDecimalString(UInt128 v) {
  if (v == 0) return "0";
  std::string out;
  while (v > 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return std::string(out.rbegin(), out.rend());
}

absl::Status ParseError(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid quantity \"", absl::CEscape(text), "\": ", why));
}

absl::Status RangeError(absl::string_view text) {
  return absl::OutOfRangeError(absl::StrCat("quantity \"", absl::CEscape(text),
                                            "\" is too large: the limit is 2^63-1 units"));
}

struct Suffix {
  int exp10 = 0;  // multiply by 10^exp10
  int exp2 = 0;   // and by 2^exp2
  Quantity::Format format = Quantity::Format::kDecimalSI;
};

// Interprets the text after the number; nullopt if it is no valid suffix.
std::optional<Suffix> InterpretSuffix(absl::string_view s) {
  using F = Quantity::Format;
  if (s.empty()) return Suffix{0, 0, F::kDecimalSI};
  if (s.size() == 1) {
    switch (s[0]) {
      case 'n':
        return Suffix{-9, 0, F::kDecimalSI};
      case 'u':
        return Suffix{-6, 0, F::kDecimalSI};
      case 'm':
        return Suffix{-3, 0, F::kDecimalSI};
      case 'k':
        return Suffix{3, 0, F::kDecimalSI};
      case 'M':
        return Suffix{6, 0, F::kDecimalSI};
      case 'G':
        return Suffix{9, 0, F::kDecimalSI};
      case 'T':
        return Suffix{12, 0, F::kDecimalSI};
      case 'P':
        return Suffix{15, 0, F::kDecimalSI};
      case 'E':
        return Suffix{18, 0, F::kDecimalSI};
      default:
        return std::nullopt;
    }
  }
  if (s.size() == 2 && s[1] == 'i') {
    switch (s[0]) {
      case 'K':
        return Suffix{0, 10, F::kBinarySI};
      case 'M':
        return Suffix{0, 20, F::kBinarySI};
      case 'G':
        return Suffix{0, 30, F::kBinarySI};
      case 'T':
        return Suffix{0, 40, F::kBinarySI};
      case 'P':
        return Suffix{0, 50, F::kBinarySI};
      case 'E':
        return Suffix{0, 60, F::kBinarySI};
      default:
        return std::nullopt;
    }
  }
  if (s[0] == 'e' || s[0] == 'E') {
    absl::string_view exp = s.substr(1);
    absl::string_view digits = exp;
    if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) digits.remove_prefix(1);
    if (digits.empty()) return std::nullopt;
    for (char c : digits) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    }
    int32_t e = 0;
    if (!absl::SimpleAtoi(exp, &e)) {
      // All digits but too many for an int: a huge exponent. Clamp; the
      // range check then reports it (or rounds it to one nano unit).
      e = exp[0] == '-' ? std::numeric_limits<int32_t>::min() / 2
                        : std::numeric_limits<int32_t>::max() / 2;
    }
    return Suffix{e, 0, F::kDecimalExponent};
  }
  return std::nullopt;
}

}  // namespace internal

using internal::Int128;
using internal::kMaxNanos;
using internal::kNanosPerUnit;
using internal::UInt128;

absl::StatusOr<Quantity> Quantity::Parse(absl::string_view text) {
  if (text.empty()) return internal::ParseError(text, "empty");
  absl::string_view rest = text;
  bool negative = false;
  if (rest[0] == '+' || rest[0] == '-') {
    negative = rest[0] == '-';
    rest.remove_prefix(1);
  }
  size_t i = 0;
  while (i < rest.size() && absl::ascii_isdigit(static_cast<unsigned char>(rest[i]))) ++i;
  absl::string_view int_part = rest.substr(0, i);
  absl::string_view frac_part;
  if (i < rest.size() && rest[i] == '.') {
    size_t j = i + 1;
    while (j < rest.size() && absl::ascii_isdigit(static_cast<unsigned char>(rest[j]))) ++j;
    frac_part = rest.substr(i + 1, j - i - 1);
    i = j;
  }
  if (int_part.empty() && frac_part.empty()) {
    return internal::ParseError(text, "expected a number such as 1, 1.5 or .5");
  }
  const absl::string_view suffix_text = rest.substr(i);
  const std::optional<internal::Suffix> suffix = internal::InterpretSuffix(suffix_text);
  if (!suffix.has_value()) {
    return internal::ParseError(
        text, absl::StrCat("unknown suffix \"", absl::CEscape(suffix_text),
                           "\" (want one of Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or e<n>)"));
  }

  // The number is digits x 10^-len(frac). Drop zeros that carry no value.
  while (!int_part.empty() && int_part.front() == '0') int_part.remove_prefix(1);
  while (!frac_part.empty() && frac_part.back() == '0') frac_part.remove_suffix(1);
  std::string digits = absl::StrCat(int_part, frac_part);
  const size_t leading_zeros = digits.find_first_not_of('0');
  if (leading_zeros == std::string::npos) return Quantity(0, suffix->format);
  digits.erase(0, leading_zeros);

  const int max_digits = suffix->format == Format::kBinarySI ? internal::kMaxBinaryDigits
                                                             : internal::kMaxDecimalDigits;
  if (static_cast<int>(digits.size()) > max_digits) {
    return internal::ParseError(text,
                                absl::StrCat("more than ", max_digits, " significant digits"));
  }
  Int128 mantissa = 0;
  for (char c : digits) mantissa = mantissa * 10 + (c - '0');

  // value in nanos = mantissa x 10^scale x 2^exp2
  const int64_t scale = int64_t{suffix->exp10} + 9 - static_cast<int64_t>(frac_part.size());
  const Int128 pow2 = static_cast<Int128>(1) << suffix->exp2;
  Int128 nanos = 0;
  if (scale >= 0) {
    // The value is at least 10^(digits-1+scale) nanos; more than 27 digits
    // exceeds kMaxNanos (~9.2e27).
    if (static_cast<int64_t>(digits.size()) - 1 + scale > 27) return internal::RangeError(text);
    if (__builtin_mul_overflow(mantissa * internal::Pow10(static_cast<int>(scale)), pow2, &nanos)) {
      return internal::RangeError(text);
    }
  } else {
    const Int128 scaled = mantissa * pow2;  // fits: see kMax*Digits
    if (-scale > 38) {
      nanos = 1;  // below one nano: round up
    } else {
      const Int128 divisor = internal::Pow10(static_cast<int>(-scale));
      nanos = scaled / divisor + (scaled % divisor != 0 ? 1 : 0);
    }
  }
  if (nanos > kMaxNanos) return internal::RangeError(text);
  return Quantity(negative ? -nanos : nanos, suffix->format);
}

Quantity Quantity::FromUnits(int64_t units, Format format) {
  return Quantity(static_cast<Int128>(units) * kNanosPerUnit, format);
}

Quantity Quantity::FromMilliUnits(int64_t milli_units, Format format) {
  return Quantity(static_cast<Int128>(milli_units) * 1'000'000, format);
}

int Quantity::Sign() const { return nanos_ > 0 ? 1 : (nanos_ < 0 ? -1 : 0); }

bool Quantity::IsInteger() const { return nanos_ % kNanosPerUnit == 0; }

Quantity Quantity::WithFormat(Format format) const { return Quantity(nanos_, format); }

namespace {

// |v| / divisor, rounded up, with v's sign.
Int128 DivideAwayFromZero(Int128 v, Int128 divisor) {
  const Int128 q = v / divisor;
  if (v % divisor == 0) return q;
  return v > 0 ? q + 1 : q - 1;
}

}  // namespace

int64_t Quantity::Value() const {
  return static_cast<int64_t>(DivideAwayFromZero(nanos_, kNanosPerUnit));
}

int64_t Quantity::MilliValue() const {
  const Int128 milli = DivideAwayFromZero(nanos_, 1'000'000);
  if (milli > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (milli < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(milli);
}

absl::StatusOr<Quantity> Quantity::Multiply(double factor) const {
  if (!std::isfinite(factor)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot multiply quantity ", ToString(), " by ", factor));
  }
  if (nanos_ == 0 || factor == 0) return Quantity(0, format_);
  const auto too_large = [&] {
    return absl::OutOfRangeError(absl::StrCat("quantity ", ToString(), " x ", factor,
                                              " is too large: the limit is 2^63-1 units"));
  };
  // Beyond 1e28 the product of any non-zero quantity (>= 1 nano) is at least
  // 1e19 units, past the limit.
  if (std::fabs(factor) > 1e28) return too_large();
  const Int128 factor_nanos =
      static_cast<Int128>(std::roundl(static_cast<long double>(factor) * 1e9L));
  Int128 product = 0;
  if (__builtin_mul_overflow(nanos_, factor_nanos, &product)) return too_large();
  const Int128 nanos = DivideAwayFromZero(product, kNanosPerUnit);
  if (nanos > kMaxNanos || nanos < -kMaxNanos) return too_large();
  return Quantity(nanos, format_);
}

Quantity Quantity::CeilToUnit() const {
  const Int128 whole = nanos_ / kNanosPerUnit * kNanosPerUnit;  // toward zero
  if (whole == nanos_ || nanos_ < 0) return Quantity(whole, format_);
  return Quantity(whole + kNanosPerUnit, format_);
}

std::string Quantity::ToString() const {
  if (nanos_ == 0) return "0";
  const char* sign = nanos_ < 0 ? "-" : "";
  UInt128 abs = nanos_ < 0 ? static_cast<UInt128>(-nanos_) : static_cast<UInt128>(nanos_);

  Format format = format_;
  if (format == Format::kBinarySI &&
      (abs < static_cast<UInt128>(1024) * kNanosPerUnit || abs % kNanosPerUnit != 0)) {
    // Below 1Ki or fractional: a binary suffix would need rounding.
    format = Format::kDecimalSI;
  }
  if (format == Format::kBinarySI) {
    static constexpr const char* kBinarySuffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    UInt128 units = abs / kNanosPerUnit;
    int power = 0;
    while (power < 6 && units % 1024 == 0) {
      units /= 1024;
      ++power;
    }
    return absl::StrCat(sign, internal::ToDecimalString(units), kBinarySuffixes[power]);
  }

  // mantissa x 10^exponent with the exponent a multiple of 3, as large as
  // possible while the mantissa stays an integer.
  UInt128 mantissa = abs;
  int exponent = -9;
  while (mantissa % 10 == 0) {
    mantissa /= 10;
    ++exponent;
  }
  const int excess = ((exponent % 3) + 3) % 3;
  for (int i = 0; i < excess; ++i) mantissa *= 10;
  exponent -= excess;

  std::string suffix;
  if (format == Format::kDecimalExponent) {
    if (exponent != 0) suffix = absl::StrCat("e", exponent);
  } else {
    // exponent is within [-9, 18]: magnitudes are >= 1n and < 2^63.
    static constexpr const char* kDecimalSuffixes[] = {"n", "u", "m", "",  "k",
                                                       "M", "G", "T", "P", "E"};
    suffix = kDecimalSuffixes[(exponent + 9) / 3];
  }
  return absl::StrCat(sign, internal::ToDecimalString(mantissa), suffix);
}

std::ostream& operator<<(std::ostream& os, const Quantity& q) { return os << q.ToString(); }

absl::StatusOr<Quantity> ScaleMemory(const Quantity& current, double factor,
                                     const std::optional<Quantity>& cap) {
  if (!std::isfinite(factor) || factor < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("memory factor must be a finite number >= 1, got ", factor));
  }
  if (current.Sign() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("memory quantity must not be negative, got ", current.ToString()));
  }
  absl::StatusOr<Quantity> scaled = current.Multiply(factor);
  if (!scaled.ok()) {
    if (cap.has_value() && absl::IsOutOfRange(scaled.status())) return *cap;
    return scaled.status();
  }
  Quantity next = scaled->CeilToUnit();
  if (cap.has_value() && next > *cap) return *cap;
  return next;
}

}  // namespace weir::api
