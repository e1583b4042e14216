#include "kube/watch_decoder.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/errors.h"

namespace weir::kube {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Every event `decoder` has complete, as "TYPE object".
std::vector<std::string> Drain(WatchDecoder& decoder) {
  std::vector<std::string> out;
  WatchEvent e;
  while (decoder.Next(&e)) {
    out.push_back(absl::StrCat(EventTypeName(e.type), " ", e.object.dump()));
  }
  return out;
}

constexpr char kBody[] =
    "{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n"
    "\r\n"
    "  {\"type\":\"MODIFIED\",\"object\":{\"a\":2}}\r\n"
    "{\"type\":\"DELETED\",\"object\":{\"a\":3}}";

TEST(WatchDecoderTest, DecodesWholeBody) {
  WatchDecoder d;
  d.Feed(kBody);
  EXPECT_THAT(Drain(d), ElementsAre("ADDED {\"a\":1}", "MODIFIED {\"a\":2}"));
  d.Finish();
  EXPECT_THAT(Drain(d), ElementsAre("DELETED {\"a\":3}"));
  EXPECT_TRUE(d.status().ok()) << d.status();
}

TEST(WatchDecoderTest, AnySplitGivesTheSameEvents) {
  const std::string body = kBody;
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    WatchDecoder d;
    d.Feed(body.substr(0, cut));
    std::vector<std::string> events = Drain(d);
    d.Feed(body.substr(cut));
    d.Finish();
    for (std::string& e : Drain(d)) events.push_back(std::move(e));
    EXPECT_THAT(events, ElementsAre("ADDED {\"a\":1}", "MODIFIED {\"a\":2}", "DELETED {\"a\":3}"))
        << "split at " << cut;
  }
}

TEST(WatchDecoderTest, ByteByByte) {
  WatchDecoder d;
  std::vector<std::string> events;
  for (char c : std::string(kBody)) {
    d.Feed(std::string(1, c));
    for (std::string& e : Drain(d)) events.push_back(std::move(e));
  }
  d.Finish();
  for (std::string& e : Drain(d)) events.push_back(std::move(e));
  EXPECT_EQ(events.size(), 3u);
}

TEST(WatchDecoderTest, ErrorEventCarriesItsStatus) {
  WatchDecoder d;
  d.Feed(
      "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\","
      "\"message\":\"too old resource version\"}}\n");
  WatchEvent e;
  ASSERT_TRUE(d.Next(&e));
  EXPECT_EQ(e.type, EventType::kError);
  EXPECT_TRUE(IsGone(e.error)) << e.error;
}

TEST(WatchDecoderTest, MalformedLineIsFinal) {
  WatchDecoder d;
  d.Feed("{\"type\":\"ADDED\",\"object\":{}}\n{\"no-type\":1}\n{\"type\":\"ADDED\"}\n");
  WatchEvent e;
  EXPECT_TRUE(d.Next(&e));
  EXPECT_FALSE(d.Next(&e));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(d.status().message(), HasSubstr("malformed watch event: {\"no-type\":1}"));
  d.Feed("{\"type\":\"ADDED\"}\n");
  EXPECT_FALSE(d.Next(&e));
}

TEST(WatchDecoderTest, RefusesWhatIsNotAnEvent) {
  for (const char* line : {"not json", "[1]", "{\"type\":1}", "{\"type\":\"ADDED\"", "\xff\xfe",
                           "{\"type\":\"RESIZED\"}"}) {
    WatchDecoder d;
    d.Feed(line);
    d.Finish();
    WatchEvent e;
    EXPECT_FALSE(d.Next(&e)) << line;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInternal) << line;
  }
}

TEST(WatchDecoderTest, QuotesAtMost200Bytes) {
  WatchDecoder d;
  d.Feed(std::string(1000, 'x') + "\n");
  WatchEvent e;
  EXPECT_FALSE(d.Next(&e));
  EXPECT_EQ(d.status().message(), "malformed watch event: " + std::string(200, 'x'));
}

}  // namespace
}  // namespace weir::kube
