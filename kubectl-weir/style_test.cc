#include "kubectl-weir/style.h"

#include "gtest/gtest.h"

namespace weir::cli {
namespace {

TEST(UseColorTest, OnlyOnATerminalAndNeverWithNoColor) {
  EXPECT_TRUE(UseColor(true, std::nullopt, "xterm-256color"));
  EXPECT_TRUE(UseColor(true, std::nullopt, std::nullopt));
  EXPECT_FALSE(UseColor(false, std::nullopt, "xterm"));  // a pipe or a file
  EXPECT_FALSE(UseColor(true, "1", "xterm"));
  EXPECT_FALSE(UseColor(true, "anything", "xterm"));
  EXPECT_TRUE(UseColor(true, "", "xterm"));  // no-color.org: set and non-empty
  EXPECT_FALSE(UseColor(true, std::nullopt, "dumb"));
  EXPECT_FALSE(UseColor(false, "1", "dumb"));
}

TEST(StyleTest, PlainWithoutColor) {
  Style st{.color = false};
  for (const char* p : {"Succeeded", "Failed", "Killed", "Running", "Canceled", "Skipped", "x"}) {
    EXPECT_EQ(st.Phase(p), p);
  }
  EXPECT_EQ(st.Bold("b"), "b");
  EXPECT_EQ(st.Dim("d"), "d");
  EXPECT_EQ(st.Red("r"), "r");
  EXPECT_EQ(st.Green("g"), "g");
}

TEST(StyleTest, PhasesInTheirColours) {
  Style st{.color = true};
  EXPECT_EQ(st.Phase("Succeeded"), "\x1b[32mSucceeded\x1b[0m");
  EXPECT_EQ(st.Phase("Failed"), "\x1b[31mFailed\x1b[0m");
  EXPECT_EQ(st.Phase("Killed"), "\x1b[31mKilled\x1b[0m");
  EXPECT_EQ(st.Phase("Running"), "\x1b[33mRunning\x1b[0m");
  EXPECT_EQ(st.Phase("Retrying"), "\x1b[33mRetrying\x1b[0m");
  EXPECT_EQ(st.Phase("Canceling"), "\x1b[33mCanceling\x1b[0m");
  EXPECT_EQ(st.Phase("Canceled"), "\x1b[35mCanceled\x1b[0m");
  EXPECT_EQ(st.Phase("Skipped"), "\x1b[2mSkipped\x1b[0m");
  EXPECT_EQ(st.Phase("Pending"), "\x1b[2mPending\x1b[0m");
  EXPECT_EQ(st.Bold("b"), "\x1b[1mb\x1b[0m");
}

TEST(VisibleWidthTest, CountsCodePointsAndSkipsEscapes) {
  EXPECT_EQ(VisibleWidth(""), 0u);
  EXPECT_EQ(VisibleWidth("abc"), 3u);
  EXPECT_EQ(VisibleWidth("├─ x"), 4u);
  EXPECT_EQ(VisibleWidth("✓"), 1u);
  EXPECT_EQ(VisibleWidth("\x1b[32mok\x1b[0m"), 2u);
  EXPECT_EQ(VisibleWidth("\x1b[1;31m│\x1b[0m "), 2u);
}

}  // namespace
}  // namespace weir::cli
