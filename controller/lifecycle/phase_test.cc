#include "lifecycle/phase.h"

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::lifecycle {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The expected table, written out independently of phase.cc: one row per
// `from` phase, columns in kAllPhases order:
//   Pending Running Retrying Canceling Succeeded Failed Killed Canceled Unknown Skipped
// '=' same phase (no transition, accepted), 'y' allowed, '.' refused.
const std::vector<std::pair<Phase, std::string>>& ExpectedTable() {
  // clang-format off
  static const auto* table = new std::vector<std::pair<Phase, std::string>>{
      //                       PeRuRtCnSuFaKiCdUnSk
      {Phase::kPending,   /**/ "=y.y.yyy.y"},
      {Phase::kRunning,   /**/ ".=yyyyy.y."},
      {Phase::kRetrying,  /**/ ".y=y.y.y.."},
      {Phase::kCanceling, /**/ "...=...y.."},
      {Phase::kSucceeded, /**/ "....=....."},
      {Phase::kFailed,    /**/ ".....=...."},
      {Phase::kKilled,    /**/ "......=..."},
      {Phase::kCanceled,  /**/ ".......=.."},
      {Phase::kUnknown,   /**/ ".yyyyyy.=."},
      {Phase::kSkipped,   /**/ ".........="},
  };
  // clang-format on
  return *table;
}

struct Pair {
  Phase from;
  Phase to;
  char expected;
};

std::vector<Pair> AllPairs() {
  std::vector<Pair> pairs;
  for (const auto& [from, row] : ExpectedTable()) {
    for (size_t i = 0; i < kAllPhases.size(); ++i) pairs.push_back({from, kAllPhases[i], row[i]});
  }
  return pairs;
}

class TransitionTableTest : public ::testing::TestWithParam<Pair> {};

TEST_P(TransitionTableTest, MatchesDesign) {
  const Pair& p = GetParam();
  const absl::Status s = CheckTransition(p.from, p.to);
  switch (p.expected) {
    case '=':
      EXPECT_TRUE(s.ok()) << s;
      EXPECT_FALSE(IsTransition(p.from, p.to)) << "staying put is no transition";
      break;
    case 'y':
      EXPECT_TRUE(s.ok()) << s;
      EXPECT_TRUE(IsTransition(p.from, p.to));
      break;
    case '.':
      EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
      EXPECT_THAT(std::string(s.message()),
                  HasSubstr(absl::StrCat(PhaseName(p.from), " -> ", PhaseName(p.to))));
      EXPECT_FALSE(IsTransition(p.from, p.to));
      break;
    default:
      FAIL() << "bad table entry " << p.expected;
  }
}

INSTANTIATE_TEST_SUITE_P(AllPairs, TransitionTableTest, ::testing::ValuesIn(AllPairs()),
                         [](const ::testing::TestParamInfo<Pair>& info) {
                           return absl::StrCat(PhaseName(info.param.from), "To",
                                               PhaseName(info.param.to));
                         });

TEST(TransitionTable, CoversEveryPhaseOnce) {
  ASSERT_EQ(ExpectedTable().size(), kAllPhases.size());
  for (size_t i = 0; i < kAllPhases.size(); ++i) {
    EXPECT_EQ(ExpectedTable()[i].first, kAllPhases[i]);
    EXPECT_EQ(ExpectedTable()[i].second.size(), kAllPhases.size());
  }
  EXPECT_EQ(AllPairs().size(), 100u);
}

TEST(TransitionTable, TerminalPhasesHaveNoExit) {
  for (Phase from : kAllPhases) {
    if (!IsTerminal(from)) continue;
    for (Phase to : kAllPhases) EXPECT_FALSE(IsTransition(from, to)) << from << " -> " << to;
  }
}

TEST(TransitionTable, RefusalsExplainThemselves) {
  EXPECT_THAT(std::string(CheckTransition(Phase::kSucceeded, Phase::kRunning).message()),
              HasSubstr("Succeeded is terminal"));
  EXPECT_THAT(std::string(CheckTransition(Phase::kCanceling, Phase::kFailed).message()),
              HasSubstr("Canceling ends only in Canceled"));
  EXPECT_THAT(std::string(CheckTransition(Phase::kRunning, Phase::kPending).message()),
              HasSubstr("initial phase"));
  EXPECT_THAT(std::string(CheckTransition(Phase::kRunning, Phase::kSkipped).message()),
              HasSubstr("only a Pending step can be Skipped"));
  EXPECT_EQ(CheckTransition(Phase::kPending, Phase::kSucceeded).message(),
            "phase transition Pending -> Succeeded is not allowed");
}

TEST(PhaseNames, RoundTrip) {
  const std::vector<std::string> names = {"Pending",   "Running", "Retrying", "Canceling",
                                          "Succeeded", "Failed",  "Killed",   "Canceled",
                                          "Unknown",   "Skipped"};
  ASSERT_EQ(names.size(), kAllPhases.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(PhaseName(kAllPhases[i]), names[i]);
    absl::StatusOr<Phase> p = ParsePhase(names[i]);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(*p, kAllPhases[i]);
  }
}

TEST(PhaseNames, RefusesUnknownNames) {
  for (const char* bad : {"", "pending", "RUNNING", "Done", "Succeeded ", "Error"}) {
    absl::StatusOr<Phase> p = ParsePhase(bad);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(p.status().message()), HasSubstr(absl::StrCat("\"", bad, "\"")));
  }
}

TEST(PhaseNames, Streams) {
  std::ostringstream os;
  os << Phase::kCanceling;
  EXPECT_EQ(os.str(), "Canceling");
}

TEST(IsTerminal, ExactlyTheEndPhases) {
  EXPECT_FALSE(IsTerminal(Phase::kPending));
  EXPECT_FALSE(IsTerminal(Phase::kRunning));
  EXPECT_FALSE(IsTerminal(Phase::kRetrying));
  EXPECT_FALSE(IsTerminal(Phase::kCanceling));
  EXPECT_FALSE(IsTerminal(Phase::kUnknown));
  EXPECT_TRUE(IsTerminal(Phase::kSucceeded));
  EXPECT_TRUE(IsTerminal(Phase::kFailed));
  EXPECT_TRUE(IsTerminal(Phase::kKilled));
  EXPECT_TRUE(IsTerminal(Phase::kCanceled));
  EXPECT_TRUE(IsTerminal(Phase::kSkipped));
}

TEST(TransitionPath, DirectAndChained) {
  EXPECT_THAT(*TransitionPath(Phase::kPending, Phase::kRunning), ElementsAre(Phase::kRunning));
  EXPECT_THAT(*TransitionPath(Phase::kRunning, Phase::kRunning), ElementsAre());
  // A pod that finished before weir saw it run.
  EXPECT_THAT(*TransitionPath(Phase::kPending, Phase::kSucceeded),
              ElementsAre(Phase::kRunning, Phase::kSucceeded));
  EXPECT_THAT(*TransitionPath(Phase::kRetrying, Phase::kKilled),
              ElementsAre(Phase::kRunning, Phase::kKilled));
  EXPECT_THAT(*TransitionPath(Phase::kPending, Phase::kRetrying),
              ElementsAre(Phase::kRunning, Phase::kRetrying));
  EXPECT_THAT(*TransitionPath(Phase::kUnknown, Phase::kCanceled),
              ElementsAre(Phase::kCanceling, Phase::kCanceled));
}

TEST(TransitionPath, EveryStepIsAllowedAndUnreachableIsRefused) {
  for (Phase from : kAllPhases) {
    for (Phase to : kAllPhases) {
      absl::StatusOr<std::vector<Phase>> path = TransitionPath(from, to);
      if (!path.ok()) {
        EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition);
        EXPECT_FALSE(CheckTransition(from, to).ok()) << from << " -> " << to;
        continue;
      }
      Phase at = from;
      for (Phase next : *path) {
        EXPECT_TRUE(IsTransition(at, next)) << at << " -> " << next;
        at = next;
      }
      EXPECT_EQ(at, to);
      if (IsTransition(from, to)) {
        EXPECT_EQ(path->size(), 1u) << from << " -> " << to;
      }
    }
  }
  EXPECT_FALSE(TransitionPath(Phase::kCanceling, Phase::kFailed).ok());
  EXPECT_FALSE(TransitionPath(Phase::kSucceeded, Phase::kRunning).ok());
  EXPECT_FALSE(TransitionPath(Phase::kRunning, Phase::kPending).ok());
  EXPECT_FALSE(TransitionPath(Phase::kRunning, Phase::kSkipped).ok());
}

}  // namespace
}  // namespace weir::lifecycle
