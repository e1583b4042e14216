#include "kubectl-weir/args.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::cli {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<Invocation> Parse(std::vector<std::string> args) { return ParseArgs(args); }

std::string ErrorOf(std::vector<std::string> args) {
  absl::StatusOr<Invocation> inv = ParseArgs(args);
  EXPECT_FALSE(inv.ok()) << "parsed: " << ::testing::PrintToString(args);
  return inv.ok() ? "" : std::string(inv.status().message());
}

TEST(ParseArgsTest, GetFlowInBothForms) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"get", "flow", "etl"},
                                               {"get", "flow/etl"},
                                               {"get", "jobflows.weir.dev", "etl"},
                                               {"get", "wjf/etl"},
                                               {"get", "JobFlow", "etl"}}) {
    absl::StatusOr<Invocation> inv = ParseArgs(args);
    ASSERT_TRUE(inv.ok()) << inv.status();
    EXPECT_EQ(inv->command, Command::kGet);
    EXPECT_EQ(inv->kind, Kind::kFlow);
    EXPECT_EQ(inv->name, "etl");
    EXPECT_EQ(inv->output, Output::kText);
  }
}

TEST(ParseArgsTest, KubectlFlagFormsAnywhere) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-n", "team", "get", "batch", "b", "-o", "json"},
        {"get", "batch", "b", "--namespace=team", "--output=json"},
        {"get", "-nteam", "batch", "-ojson", "b"},
        {"get", "batch", "b", "--namespace", "team", "-o=json"}}) {
    absl::StatusOr<Invocation> inv = ParseArgs(args);
    ASSERT_TRUE(inv.ok()) << inv.status() << " " << ::testing::PrintToString(args);
    EXPECT_EQ(inv->kind, Kind::kBatch);
    EXPECT_EQ(inv->name, "b");
    EXPECT_EQ(inv->ns, "team");
    EXPECT_EQ(inv->output, Output::kJson);
  }
}

TEST(ParseArgsTest, ConnectionFlags) {
  absl::StatusOr<Invocation> inv =
      Parse({"get", "flows", "-A", "--context", "kind-x", "--kubeconfig=/tmp/k", "-o", "yaml"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_TRUE(inv->all_namespaces);
  EXPECT_TRUE(inv->name.empty());
  EXPECT_EQ(inv->context, "kind-x");
  EXPECT_EQ(inv->kubeconfig, "/tmp/k");
  EXPECT_EQ(inv->output, Output::kYaml);
}

TEST(ParseArgsTest, EachCommand) {
  absl::StatusOr<Invocation> inv = Parse({"logs", "flow/etl", "load", "--attempt", "2", "-f"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, Command::kLogs);
  EXPECT_EQ(inv->step, "load");
  EXPECT_EQ(inv->attempt, 2);
  EXPECT_TRUE(inv->follow);

  inv = Parse({"logs", "batch/nightly"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->kind, Kind::kBatch);
  EXPECT_FALSE(inv->attempt.has_value());
  EXPECT_FALSE(inv->follow);

  inv = Parse({"cancel", "flow/etl", "--step=load"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, Command::kCancel);
  EXPECT_EQ(inv->step, "load");

  inv = Parse({"suspend", "flow", "etl"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, Command::kSuspend);
  inv = Parse({"resume", "flow/etl"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, Command::kResume);

  inv = Parse({"wait", "batch/b", "--timeout", "1m30s"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, Command::kWait);
  EXPECT_EQ(inv->timeout, absl::Seconds(90));
  inv = Parse({"wait", "batch/b", "--timeout=45"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->timeout, absl::Seconds(45));
  inv = Parse({"wait", "flow/f"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_FALSE(inv->timeout.has_value());

  inv = Parse({"watch", "flow", "etl"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, Command::kWatch);

  inv = Parse({"get", "flow", "etl", "-o", "dot"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->output, Output::kDot);
}

TEST(ParseArgsTest, HelpAndNothing) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{}, {"help"}, {"-h"}, {"get", "flow", "x", "--help"}}) {
    absl::StatusOr<Invocation> inv = ParseArgs(args);
    ASSERT_TRUE(inv.ok()) << inv.status();
    EXPECT_EQ(inv->command, Command::kHelp);
  }
  EXPECT_THAT(UsageText(), HasSubstr("kubectl weir get flow NAME"));
}

TEST(ParseArgsTest, MistakesAreNamed) {
  EXPECT_THAT(ErrorOf({"frobnicate", "flow/x"}), HasSubstr("unknown command \"frobnicate\""));
  EXPECT_THAT(ErrorOf({"get", "pods", "x"}), HasSubstr("unknown kind \"pods\""));
  EXPECT_THAT(ErrorOf({"get"}), HasSubstr("get needs an object"));
  EXPECT_THAT(ErrorOf({"get", "flow/"}), HasSubstr("names no object"));
  EXPECT_THAT(ErrorOf({"get", "flow", "x", "--frob"}), HasSubstr("unknown flag: --frob"));
  EXPECT_THAT(ErrorOf({"get", "flow", "x", "-z"}), HasSubstr("unknown shorthand flag: 'z'"));
  EXPECT_THAT(ErrorOf({"get", "flow", "x", "-n"}),
              HasSubstr("flag needs an argument: --namespace"));
  EXPECT_THAT(ErrorOf({"get", "flow", "x", "-o", "table"}),
              HasSubstr("unknown output format \"table\""));
  EXPECT_THAT(ErrorOf({"get", "flow", "x", "-A"}),
              HasSubstr("-A/--all-namespaces goes with a list"));
  EXPECT_THAT(ErrorOf({"get", "batch", "x", "-o", "dot"}), HasSubstr("-o dot draws one flow"));
  EXPECT_THAT(ErrorOf({"get", "flows", "-o", "dot"}), HasSubstr("-o dot draws one flow"));
  EXPECT_THAT(ErrorOf({"get", "flow", "x", "y"}), HasSubstr("unexpected argument \"y\""));
  EXPECT_THAT(ErrorOf({"wait", "flow/x", "-o", "json"}), HasSubstr("-o/--output goes with get"));
  EXPECT_THAT(ErrorOf({"logs", "flow/x"}), HasSubstr("needs a STEP"));
  EXPECT_THAT(ErrorOf({"logs", "batch/x", "--attempt", "0"}), HasSubstr("invalid --attempt \"0\""));
  EXPECT_THAT(ErrorOf({"get", "flow", "x", "-f"}), HasSubstr("-f/--follow goes with logs"));
  EXPECT_THAT(ErrorOf({"cancel", "batch/x", "--step", "a"}),
              HasSubstr("--step goes with cancel flow"));
  EXPECT_THAT(ErrorOf({"wait", "flow/x", "--timeout", "soon"}),
              HasSubstr("invalid --timeout \"soon\""));
  EXPECT_THAT(ErrorOf({"get", "flow/x", "--timeout", "1m"}), HasSubstr("--timeout goes with wait"));
  EXPECT_THAT(ErrorOf({"cancel", "flow"}), HasSubstr("cancel needs the object's NAME"));
  EXPECT_THAT(ErrorOf({"suspend", "batch/x"}), HasSubstr("works on flows only"));
  EXPECT_THAT(ErrorOf({"watch", "batch/x"}), HasSubstr("works on flows only"));
  EXPECT_THAT(ErrorOf({"get", "flow", "x", "-A=1"}), HasSubstr("unknown shorthand flag: -A=1"));
  EXPECT_THAT(ErrorOf({"get", "flow", "x", "--follow=yes"}), HasSubstr("takes no value"));
}

TEST(ParseArgsTest, DoubleDashEndsFlags) {
  absl::StatusOr<Invocation> inv = Parse({"get", "flow", "--", "-odd"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->name, "-odd");
}

}  // namespace
}  // namespace weir::cli
