// Quantity parsing and arithmetic. Input: lines "<quantity>[\n<factor>
// [\n<cap>]]", e.g. "32Mi\n2.0\n256Mi" (an OOM retry's memory). Checks,
// beyond memory safety and UBSan's overflow checks on the int128 maths: a
// refused quantity is InvalidArgument or OutOfRange quoting the input; in
// every format, ToString parses back to the same value; CeilToUnit is the
// value rounded up; Multiply and ScaleMemory results round-trip and
// ScaleMemory never exceeds its cap.
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/quantity.h"
#include "fuzz.h"

namespace weir::fuzz {
namespace {

using api::Quantity;

void CheckRoundTrip(const Quantity& q) {
  for (Quantity::Format f : {Quantity::Format::kDecimalSI, Quantity::Format::kBinarySI,
                             Quantity::Format::kDecimalExponent}) {
    std::string text = q.WithFormat(f).ToString();
    absl::StatusOr<Quantity> back = Quantity::Parse(text);
    Check(back.ok() && *back == q, absl::StrCat("round trip through \"", text, "\""));
  }
}

void Run(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('\n', 2));
  absl::StatusOr<Quantity> q = Quantity::Parse(parts[0]);
  if (!q.ok()) {
    Check(q.status().code() == absl::StatusCode::kInvalidArgument ||
              q.status().code() == absl::StatusCode::kOutOfRange,
          q.status().ToString());
    return;
  }
  CheckRoundTrip(*q);
  (void)q->Value();
  (void)q->MilliValue();
  Quantity ceil = q->CeilToUnit();
  Check(ceil >= *q && ceil.IsInteger() && (ceil == *q) == q->IsInteger(), "CeilToUnit");

  double factor = 0;
  if (parts.size() < 2 || !absl::SimpleAtod(parts[1], &factor)) return;
  if (absl::StatusOr<Quantity> product = q->Multiply(factor); product.ok()) {
    CheckRoundTrip(*product);
  }
  std::optional<Quantity> cap;
  if (parts.size() == 3) {
    absl::StatusOr<Quantity> parsed = Quantity::Parse(parts[2]);
    if (!parsed.ok()) return;
    cap = *parsed;
  }
  if (absl::StatusOr<Quantity> next = api::ScaleMemory(*q, factor, cap); next.ok()) {
    CheckRoundTrip(*next);
    Check(!cap.has_value() || *next <= *cap, "ScaleMemory went past its cap");
  }
}

}  // namespace
}  // namespace weir::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weir::fuzz::Run(weir::fuzz::AsText(data, size));
  return 0;
}
