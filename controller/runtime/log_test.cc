#include "runtime/log.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace weir::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

class CaptureSink : public LogSink {
 public:
  void Write(absl::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

class LogTest : public ::testing::Test {
 protected:
  Logger Make(LogFormat format, LogLevel level = LogLevel::kInfo) {
    Logger::Options o;
    o.format = format;
    o.level = level;
    o.clock = &clock_;
    o.sink = sink_;
    return Logger(o);
  }
  FakeClock clock_{absl::FromUnixMicros(1764072000123456)};  // 2025-11-25T12:00:00.123456Z
  std::shared_ptr<CaptureSink> sink_ = std::make_shared<CaptureSink>();
};

TEST_F(LogTest, TextFormatIsLogfmt) {
  Logger log = Make(LogFormat::kText);
  log.Info("reconciled", {{"batch", "ns/name"}, {"phase", "Running"}, {"attempt", 2}});
  EXPECT_THAT(sink_->lines, ElementsAre("ts=2025-11-25T12:00:00.123456Z level=info msg=reconciled "
                                        "batch=ns/name phase=Running attempt=2\n"));
}

TEST_F(LogTest, TextQuotesAndEscapesWhereNeeded) {
  Logger log = Make(LogFormat::kText);
  log.Warning("two words", {{"empty", ""},
                            {"quote", "say \"hi\""},
                            {"eq", "a=b"},
                            {"nl", "line1\nline2\ttab"},
                            {"ctl", std::string("\x01", 1)},
                            {"utf8", "größe"},
                            {"bad key", true},
                            {"ratio", 0.25},
                            {"wait", absl::Milliseconds(1500)},
                            {"err", absl::NotFoundError("no such batch")}});
  ASSERT_THAT(sink_->lines, SizeIs(1));
  EXPECT_EQ(sink_->lines[0],
            "ts=2025-11-25T12:00:00.123456Z level=warning msg=\"two words\" empty=\"\" "
            "quote=\"say \\\"hi\\\"\" eq=\"a=b\" nl=\"line1\\nline2\\ttab\" ctl=\"\\x01\" "
            "utf8=\"größe\" bad_key=true ratio=0.25 wait=1.5s "
            "err=\"NOT_FOUND: no such batch\"\n");
}

TEST_F(LogTest, JsonLinesParseWithTypedFields) {
  Logger log = Make(LogFormat::kJson);
  log.Error("failed \"hard\"", {{"batch", "ns/a"},
                                {"attempt", 3},
                                {"ratio", 0.5},
                                {"retry", false},
                                {"nl", "x\ny"},
                                {"msg", "shadow"},
                                {"big", 1ul << 40}});
  ASSERT_THAT(sink_->lines, SizeIs(1));
  const std::string& line = sink_->lines[0];
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line even with newlines in values
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["ts"], "2025-11-25T12:00:00.123456Z");
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["msg"], "failed \"hard\"");
  EXPECT_EQ(j["batch"], "ns/a");
  EXPECT_EQ(j["attempt"], 3);
  EXPECT_EQ(j["ratio"], 0.5);
  EXPECT_EQ(j["retry"], false);
  EXPECT_EQ(j["nl"], "x\ny");
  EXPECT_EQ(j["_msg"], "shadow");
  EXPECT_EQ(j["big"], int64_t{1} << 40);
  // Key order: ts, level, msg, then fields as given.
  EXPECT_EQ(line.rfind("{\"ts\":\"2025-11-25T12:00:00.123456Z\",\"level\":\"error\",\"msg\":", 0),
            0u);
}

TEST_F(LogTest, JsonSurvivesInvalidUtf8AndNonFinite) {
  Logger log = Make(LogFormat::kJson);
  log.Info("bytes", {{"raw", std::string("a\xff"
                                         "b")},
                     {"inf", std::numeric_limits<double>::infinity()}});
  nlohmann::json j = nlohmann::json::parse(sink_->lines.at(0));
  EXPECT_EQ(j["raw"],
            "a\xEF\xBF\xBD"
            "b");  // U+FFFD replacement
  EXPECT_EQ(j["inf"], "+Inf");
}

TEST_F(LogTest, LevelFiltersAndCanChange) {
  Logger log = Make(LogFormat::kText, LogLevel::kWarning);
  log.Debug("d");
  log.Info("i");
  log.Warning("w");
  log.Error("e");
  EXPECT_THAT(sink_->lines, SizeIs(2));
  EXPECT_FALSE(log.Enabled(LogLevel::kInfo));
  Logger child = log.With({{"controller", "batch"}});
  child.SetLevel(LogLevel::kDebug);  // shared with the parent
  log.Debug("now visible");
  EXPECT_THAT(sink_->lines, SizeIs(3));
}

TEST_F(LogTest, WithAddsFixedFieldsFirst) {
  Logger log = Make(LogFormat::kText);
  Logger batch = log.With({{"controller", "batch"}}).With({{"worker", 1}});
  clock_.Advance(absl::Seconds(1));
  batch.Info("start", {{"key", "ns/x"}});
  log.Info("plain");
  EXPECT_THAT(sink_->lines, ElementsAre("ts=2025-11-25T12:00:01.123456Z level=info msg=start "
                                        "controller=batch worker=1 key=ns/x\n",
                                        "ts=2025-11-25T12:00:01.123456Z level=info msg=plain\n"));
}

TEST_F(LogTest, ConcurrentWritersNeverInterleave) {
  Logger log = Make(LogFormat::kJson);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) log.Info("tick", {{"thread", t}, {"i", i}});
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_THAT(sink_->lines, SizeIs(2000));
  for (const std::string& line : sink_->lines) {
    EXPECT_NO_THROW(nlohmann::json::parse(line)) << line;
  }
}

TEST(LogLevelTest, ParseAndName) {
  LogLevel l;
  EXPECT_TRUE(ParseLogLevel("WARN", &l));
  EXPECT_EQ(l, LogLevel::kWarning);
  EXPECT_TRUE(ParseLogLevel("debug", &l));
  EXPECT_EQ(LogLevelName(l), "debug");
  EXPECT_FALSE(ParseLogLevel("verbose", &l));
  LogFormat f;
  EXPECT_TRUE(ParseLogFormat("json", &f));
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml", &f));
}

}  // namespace
}  // namespace weir::runtime
