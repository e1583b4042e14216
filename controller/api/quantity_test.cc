#include "api/quantity.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::api {
namespace {

using ::testing::HasSubstr;
using F = Quantity::Format;

Quantity Q(const char* text) {
  absl::StatusOr<Quantity> q = Quantity::Parse(text);
  EXPECT_TRUE(q.ok()) << text << ": " << q.status();
  return q.ok() ? *q : Quantity();
}

struct ParseCase {
  const char* input;
  int64_t milli;          // expected value in thousandths
  F format;               // expected suffix family
  const char* canonical;  // expected ToString()
};

class ParseTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseTest, ValueFormatAndCanonicalForm) {
  const ParseCase& c = GetParam();
  absl::StatusOr<Quantity> q = Quantity::Parse(c.input);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->MilliValue(), c.milli);
  EXPECT_EQ(q->format(), c.format);
  EXPECT_EQ(q->ToString(), c.canonical);
  // The canonical form parses back to the same value.
  absl::StatusOr<Quantity> again = Quantity::Parse(q->ToString());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *q);
  EXPECT_EQ(again->ToString(), c.canonical);
}

constexpr int64_t kKi = 1024;
constexpr int64_t kMi = kKi * 1024;
constexpr int64_t kGi = kMi * 1024;
constexpr int64_t kTi = kGi * 1024;

INSTANTIATE_TEST_SUITE_P(
    Quantities, ParseTest,
    ::testing::Values(
        // Binary SI.
        ParseCase{"512Mi", 512 * kMi * 1000, F::kBinarySI, "512Mi"},
        ParseCase{"2Gi", 2 * kGi * 1000, F::kBinarySI, "2Gi"},
        ParseCase{"1Ki", kKi * 1000, F::kBinarySI, "1Ki"},
        ParseCase{"1Ti", kTi * 1000, F::kBinarySI, "1Ti"},
        ParseCase{"1Pi", kTi * 1024 * 1000, F::kBinarySI, "1Pi"},
        ParseCase{"1024Mi", kGi * 1000, F::kBinarySI, "1Gi"},
        ParseCase{"1536Mi", 1536 * kMi * 1000, F::kBinarySI, "1536Mi"},
        ParseCase{"1.5Gi", 1536 * kMi * 1000, F::kBinarySI, "1536Mi"},
        ParseCase{"0.5Gi", 512 * kMi * 1000, F::kBinarySI, "512Mi"},
        ParseCase{".5Gi", 512 * kMi * 1000, F::kBinarySI, "512Mi"},
        ParseCase{"0.5Ki", 512 * 1000, F::kBinarySI, "512"},  // below 1Ki: decimal
        ParseCase{"0.1Ki", 102400, F::kBinarySI, "102400m"},  // not whole: decimal
        ParseCase{"1000Ki", 1024000 * 1000, F::kBinarySI, "1000Ki"},
        // 2^60 x 1000 milli does not fit int64: MilliValue saturates.
        ParseCase{"1Ei", std::numeric_limits<int64_t>::max(), F::kBinarySI, "1Ei"},
        // Decimal SI.
        ParseCase{"1G", 1'000'000'000'000, F::kDecimalSI, "1G"},
        ParseCase{"1500M", 1'500'000'000'000, F::kDecimalSI, "1500M"},
        ParseCase{"1.5G", 1'500'000'000'000, F::kDecimalSI, "1500M"},
        ParseCase{"1500000000", 1'500'000'000'000, F::kDecimalSI, "1500M"},
        ParseCase{"500m", 500, F::kDecimalSI, "500m"}, ParseCase{"0.5", 500, F::kDecimalSI, "500m"},
        ParseCase{"1.5", 1500, F::kDecimalSI, "1500m"}, ParseCase{"1", 1000, F::kDecimalSI, "1"},
        ParseCase{"100", 100'000, F::kDecimalSI, "100"},
        ParseCase{"1000", 1'000'000, F::kDecimalSI, "1k"},
        ParseCase{"1500", 1'500'000, F::kDecimalSI, "1500"},
        ParseCase{"1.5k", 1'500'000, F::kDecimalSI, "1500"},
        ParseCase{"2k", 2'000'000, F::kDecimalSI, "2k"},
        ParseCase{"3T", 3'000'000'000'000'000, F::kDecimalSI, "3T"},
        ParseCase{"1P", 1'000'000'000'000'000'000, F::kDecimalSI, "1P"},
        ParseCase{"250u", 1, F::kDecimalSI, "250u"},  // 0.00025 -> 0.25 milli, rounded up
        ParseCase{"5n", 1, F::kDecimalSI, "5n"}, ParseCase{"1000n", 1, F::kDecimalSI, "1u"},
        ParseCase{"0", 0, F::kDecimalSI, "0"}, ParseCase{"0Gi", 0, F::kBinarySI, "0"},
        ParseCase{"000.000", 0, F::kDecimalSI, "0"}, ParseCase{"007", 7000, F::kDecimalSI, "7"},
        ParseCase{"1.", 1000, F::kDecimalSI, "1"}, ParseCase{"+1", 1000, F::kDecimalSI, "1"},
        ParseCase{"-1", -1000, F::kDecimalSI, "-1"},
        ParseCase{"-1.5Gi", -1536 * kMi * 1000, F::kBinarySI, "-1536Mi"},
        ParseCase{"-500m", -500, F::kDecimalSI, "-500m"}, ParseCase{"-0", 0, F::kDecimalSI, "0"},
        // Decimal exponent.
        ParseCase{"1e3", 1'000'000, F::kDecimalExponent, "1e3"},
        ParseCase{"1E3", 1'000'000, F::kDecimalExponent, "1e3"},
        ParseCase{"1e+3", 1'000'000, F::kDecimalExponent, "1e3"},
        ParseCase{"1.5e3", 1'500'000, F::kDecimalExponent, "1500"},
        ParseCase{"1e-3", 1, F::kDecimalExponent, "1e-3"},
        ParseCase{"100e-3", 100, F::kDecimalExponent, "100e-3"},
        ParseCase{"1e0", 1000, F::kDecimalExponent, "1"},
        ParseCase{"12e6", 12'000'000'000, F::kDecimalExponent, "12e6"},
        ParseCase{"1e9", 1'000'000'000'000, F::kDecimalExponent, "1e9"},
        ParseCase{"1e18", std::numeric_limits<int64_t>::max(), F::kDecimalExponent, "1e18"},
        // Sub-nano precision rounds up to one nano.
        ParseCase{"0.0000000001", 1, F::kDecimalSI, "1n"},
        ParseCase{"1e-30", 1, F::kDecimalExponent, "1e-9"},
        ParseCase{"1.0000000001", 1001, F::kDecimalSI, "1000000001n"},
        ParseCase{"-0.0000000001", -1, F::kDecimalSI, "-1n"}));

TEST(QuantityParse, ExaAndUnitsAtTheLimit) {
  EXPECT_EQ(Q("1E").Value(), 1'000'000'000'000'000'000);
  EXPECT_EQ(Q("1E").ToString(), "1E");
}

TEST(QuantityParse, LargestValueIsAccepted) {
  const Quantity max = Q("9223372036854775807");
  EXPECT_EQ(max.Value(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(max.ToString(), "9223372036854775807");
  EXPECT_EQ(Q("-9223372036854775807").Value(), -std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Q("7Ei").Value(), int64_t{7} << 60);
  EXPECT_EQ(Q("9223372036854775807000m").Value(), std::numeric_limits<int64_t>::max());
}

struct BadCase {
  const char* input;
  absl::StatusCode code;
  const char* mentions;
};

class BadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadInputTest, IsRefusedWithAMessageNamingTheInput) {
  const BadCase& c = GetParam();
  absl::StatusOr<Quantity> q = Quantity::Parse(c.input);
  ASSERT_FALSE(q.ok()) << c.input << " parsed as " << *q;
  EXPECT_EQ(q.status().code(), c.code) << q.status();
  EXPECT_THAT(std::string(q.status().message()), HasSubstr(absl::StrCat("\"", c.input, "\"")));
  EXPECT_THAT(std::string(q.status().message()), HasSubstr(c.mentions));
}

using absl::StatusCode;
INSTANTIATE_TEST_SUITE_P(
    Quantities, BadInputTest,
    ::testing::Values(BadCase{"", StatusCode::kInvalidArgument, "empty"},
                      BadCase{"Gi", StatusCode::kInvalidArgument, "expected a number"},
                      BadCase{"-", StatusCode::kInvalidArgument, "expected a number"},
                      BadCase{".", StatusCode::kInvalidArgument, "expected a number"},
                      BadCase{"+.Mi", StatusCode::kInvalidArgument, "expected a number"},
                      BadCase{"1K", StatusCode::kInvalidArgument, "unknown suffix \"K\""},
                      BadCase{"1Kb", StatusCode::kInvalidArgument, "unknown suffix"},
                      BadCase{"1gi", StatusCode::kInvalidArgument, "unknown suffix"},
                      BadCase{"1GiB", StatusCode::kInvalidArgument, "unknown suffix"},
                      BadCase{"1.5.5", StatusCode::kInvalidArgument, "unknown suffix \".5\""},
                      BadCase{" 1Gi", StatusCode::kInvalidArgument, "expected a number"},
                      BadCase{"1Gi ", StatusCode::kInvalidArgument, "unknown suffix"},
                      BadCase{"1 Gi", StatusCode::kInvalidArgument, "unknown suffix"},
                      BadCase{"1e", StatusCode::kInvalidArgument, "unknown suffix \"e\""},
                      BadCase{"1e+", StatusCode::kInvalidArgument, "unknown suffix"},
                      BadCase{"1e1.5", StatusCode::kInvalidArgument, "unknown suffix"},
                      BadCase{"1e3Gi", StatusCode::kInvalidArgument, "unknown suffix"},
                      BadCase{"--1", StatusCode::kInvalidArgument, "expected a number"},
                      BadCase{"1-", StatusCode::kInvalidArgument, "unknown suffix"},
                      BadCase{"0x10", StatusCode::kInvalidArgument, "unknown suffix"},
                      BadCase{"NaN", StatusCode::kInvalidArgument, "expected a number"},
                      BadCase{"1mi", StatusCode::kInvalidArgument, "unknown suffix"},
                      BadCase{"123456789012345678901Ki", StatusCode::kInvalidArgument,
                              "significant digits"},
                      BadCase{"1.00000000000000000000000000000000000001",
                              StatusCode::kInvalidArgument, "significant digits"},
                      // Overflow: more than 2^63-1 units.
                      BadCase{"9223372036854775808", StatusCode::kOutOfRange, "too large"},
                      BadCase{"9223372036854775807.5", StatusCode::kOutOfRange, "too large"},
                      BadCase{"-9223372036854775808", StatusCode::kOutOfRange, "too large"},
                      BadCase{"8Ei", StatusCode::kOutOfRange, "too large"},
                      BadCase{"10E", StatusCode::kOutOfRange, "too large"},
                      BadCase{"100000P", StatusCode::kOutOfRange, "too large"},
                      BadCase{"1e19", StatusCode::kOutOfRange, "too large"},
                      BadCase{"1e99999999999", StatusCode::kOutOfRange, "too large"},
                      BadCase{"99999999999999999999Ei", StatusCode::kOutOfRange, "too large"}));

// 8Ei = 2^63 is one past the limit; the largest whole number of Pi below it is fine.
TEST(QuantityParse, EightExbibytesIsOnePastTheLimit) {
  EXPECT_EQ(Quantity::Parse("8Ei").status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(Quantity::Parse("8191Pi").ok());
}

TEST(QuantityParse, HugeNegativeExponentRoundsUpToOneNano) {
  EXPECT_EQ(Q("1e-99999999999").ToString(), "1e-9");
  EXPECT_EQ(Q("5e-10").ToString(), "1e-9");
  EXPECT_EQ(Q("0e99999"), Quantity());
}

TEST(QuantityCompare, ComparesValuesAcrossFormats) {
  EXPECT_EQ(Q("1Gi"), Q("1073741824"));
  EXPECT_EQ(Q("1Gi"), Q("1073741824e0"));
  EXPECT_EQ(Q("1G"), Q("1e9"));
  EXPECT_EQ(Q("1000M"), Q("1G"));
  EXPECT_EQ(Q("0.5"), Q("500m"));
  EXPECT_NE(Q("1Gi"), Q("1G"));
  EXPECT_LT(Q("1G"), Q("1Gi"));
  EXPECT_GT(Q("1Gi"), Q("1G"));
  EXPECT_LT(Q("999m"), Q("1"));
  EXPECT_LT(Q("-1Gi"), Q("1n"));
  EXPECT_LE(Q("8Gi"), Q("8Gi"));
  EXPECT_GE(Q("8Gi"), Q("8192Mi"));
  EXPECT_LT(Q("1n"), Q("2n"));
}

TEST(QuantityValue, RoundsUpAwayFromZero) {
  EXPECT_EQ(Q("1.5").Value(), 2);
  EXPECT_EQ(Q("1n").Value(), 1);
  EXPECT_EQ(Q("-1.5").Value(), -2);
  EXPECT_EQ(Q("2Gi").Value(), 2 * kGi);
  EXPECT_EQ(Q("1n").MilliValue(), 1);
  EXPECT_EQ(Q("-1n").MilliValue(), -1);
  EXPECT_EQ(Q("7Ei").MilliValue(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Q("-7Ei").MilliValue(), std::numeric_limits<int64_t>::min());
}

TEST(QuantityValue, SignAndIntegerness) {
  EXPECT_EQ(Q("1").Sign(), 1);
  EXPECT_EQ(Q("0").Sign(), 0);
  EXPECT_EQ(Q("-1m").Sign(), -1);
  EXPECT_TRUE(Q("0").IsZero());
  EXPECT_FALSE(Q("1n").IsZero());
  EXPECT_TRUE(Q("2Gi").IsInteger());
  EXPECT_TRUE(Q("1k").IsInteger());
  EXPECT_FALSE(Q("500m").IsInteger());
}

TEST(QuantityConstruct, FromUnitsAndMilliUnits) {
  EXPECT_EQ(Quantity::FromUnits(1073741824, F::kBinarySI).ToString(), "1Gi");
  EXPECT_EQ(Quantity::FromUnits(1500000000).ToString(), "1500M");
  EXPECT_EQ(Quantity::FromUnits(1000, F::kDecimalExponent).ToString(), "1e3");
  EXPECT_EQ(Quantity::FromUnits(0).ToString(), "0");
  EXPECT_EQ(Quantity::FromMilliUnits(500).ToString(), "500m");
  EXPECT_EQ(Quantity::FromMilliUnits(2000).ToString(), "2");
  EXPECT_EQ(Quantity::FromUnits(std::numeric_limits<int64_t>::max()).Value(),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Quantity().ToString(), "0");
  EXPECT_EQ(Quantity().format(), F::kDecimalSI);
}

TEST(QuantityFormat, WithFormatKeepsTheValue) {
  const Quantity g = Q("1073741824");
  EXPECT_EQ(g.ToString(), "1073741824");
  EXPECT_EQ(g.WithFormat(F::kBinarySI).ToString(), "1Gi");
  EXPECT_EQ(Q("1Gi").WithFormat(F::kDecimalSI).ToString(), "1073741824");
  EXPECT_EQ(Q("1G").WithFormat(F::kDecimalExponent).ToString(), "1e9");
  // Whole but not a multiple of 1024: binary family, no suffix (as Kubernetes).
  EXPECT_EQ(Q("1G").WithFormat(F::kBinarySI).ToString(), "1000000000");
  EXPECT_EQ(Q("2048").WithFormat(F::kBinarySI).ToString(), "2Ki");
}

TEST(QuantityFormat, StreamsCanonically) {
  std::ostringstream os;
  os << Q("1024Mi");
  EXPECT_EQ(os.str(), "1Gi");
}

TEST(QuantityMultiply, ExactProducts) {
  EXPECT_EQ(Q("1Gi").Multiply(2.0)->ToString(), "2Gi");
  EXPECT_EQ(Q("512Mi").Multiply(1.5)->ToString(), "768Mi");
  EXPECT_EQ(Q("1G").Multiply(1.5)->ToString(), "1500M");
  EXPECT_EQ(Q("1e3").Multiply(3)->ToString(), "3e3");
  EXPECT_EQ(Q("100m").Multiply(0.5)->ToString(), "50m");
  EXPECT_EQ(Q("1Gi").Multiply(0)->ToString(), "0");
  EXPECT_EQ(Q("1Gi").Multiply(-1)->ToString(), "-1Gi");
  // 1.1 is taken as 1.100000000, not as the binary double 1.1000000000000000888.
  EXPECT_EQ(Q("1G").Multiply(1.1)->ToString(), "1100M");
  // Products finer than a nano round up.
  EXPECT_EQ(Q("1n").Multiply(1.5)->ToString(), "2n");
  EXPECT_EQ(Q("-1n").Multiply(1.5)->ToString(), "-2n");
  // The format of the input is kept.
  EXPECT_EQ(Q("1Gi").Multiply(1.1)->format(), F::kBinarySI);
}

TEST(QuantityMultiply, Overflow) {
  EXPECT_EQ(Q("4Ei").Multiply(2).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Q("1").Multiply(1e19).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Q("1Ei").Multiply(1e30).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Q("7Ei").Multiply(1e20).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Q("-4Ei").Multiply(2).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(Q("4Ei").Multiply(2).status().message()), HasSubstr("4Ei"));
  // A huge factor on a tiny quantity is still fine.
  EXPECT_EQ(Q("1n").Multiply(1e18)->ToString(), "1G");
  EXPECT_EQ(Q("0").Multiply(1e300)->ToString(), "0");
}

TEST(QuantityMultiply, RefusesNonFiniteFactors) {
  EXPECT_EQ(Q("1Gi").Multiply(std::nan("")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Q("1Gi").Multiply(INFINITY).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(QuantityCeil, RoundsTowardPositiveInfinity) {
  EXPECT_EQ(Q("1.5").CeilToUnit().ToString(), "2");
  EXPECT_EQ(Q("1n").CeilToUnit().ToString(), "1");
  EXPECT_EQ(Q("2").CeilToUnit().ToString(), "2");
  EXPECT_EQ(Q("-1.5").CeilToUnit().ToString(), "-1");
  EXPECT_EQ(Q("0").CeilToUnit().ToString(), "0");
  EXPECT_EQ(Q("0.1Ki").CeilToUnit().ToString(), "103");
  EXPECT_EQ(Q("9223372036854775806.5").CeilToUnit().Value(), std::numeric_limits<int64_t>::max());
}

TEST(ScaleMemory, MultipliesRoundsUpToABytesAndCaps) {
  const std::optional<Quantity> cap = Q("8Gi");
  EXPECT_EQ(ScaleMemory(Q("1Gi"), 2.0, cap)->ToString(), "2Gi");
  EXPECT_EQ(ScaleMemory(Q("4Gi"), 2.0, cap)->ToString(), "8Gi");
  EXPECT_EQ(ScaleMemory(Q("5Gi"), 2.0, cap)->ToString(), "8Gi");
  EXPECT_EQ(ScaleMemory(Q("8Gi"), 2.0, cap)->ToString(), "8Gi");
  EXPECT_EQ(ScaleMemory(Q("512Mi"), 1.5, cap)->ToString(), "768Mi");
  // 1Gi x 1.1 = 1181116006.4 bytes -> 1181116007.
  EXPECT_EQ(ScaleMemory(Q("1Gi"), 1.1, cap)->ToString(), "1181116007");
  EXPECT_EQ(ScaleMemory(Q("1Gi"), 1.1, cap)->Value(), 1181116007);
  EXPECT_EQ(ScaleMemory(Q("1G"), 1.25, std::nullopt)->ToString(), "1250M");
  EXPECT_EQ(ScaleMemory(Q("100"), 1.001, std::nullopt)->ToString(), "101");
  EXPECT_EQ(ScaleMemory(Q("1Gi"), 1.0, cap)->ToString(), "1Gi");
  EXPECT_EQ(ScaleMemory(Q("0"), 2.0, cap)->ToString(), "0");
}

TEST(ScaleMemory, CappedResultIsTheCapAsWritten) {
  const absl::StatusOr<Quantity> next = ScaleMemory(Q("6G"), 2.0, Q("8Gi"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->ToString(), "8Gi");
  EXPECT_EQ(next->format(), F::kBinarySI);
}

TEST(ScaleMemory, OverflowIsCappedOrRefused) {
  EXPECT_EQ(ScaleMemory(Q("4Ei"), 4.0, Q("8Gi"))->ToString(), "8Gi");
  EXPECT_EQ(ScaleMemory(Q("4Ei"), 4.0, std::nullopt).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST(ScaleMemory, RefusesBadFactorsAndNegativeMemory) {
  EXPECT_EQ(ScaleMemory(Q("1Gi"), 0.5, std::nullopt).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScaleMemory(Q("1Gi"), std::nan(""), std::nullopt).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScaleMemory(Q("1Gi"), INFINITY, Q("8Gi")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScaleMemory(Q("-1Gi"), 2, std::nullopt).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ScaleMemory(Q("1Gi"), 0.5, std::nullopt).status().message()),
              HasSubstr("0.5"));
}

}  // namespace
}  // namespace weir::api
