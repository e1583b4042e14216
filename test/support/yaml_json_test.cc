#include "test/support/yaml_json.h"

#include "gtest/gtest.h"

namespace weir::test {
namespace {

using nlohmann::json;

TEST(YamlToJsonTest, ScalarTypes) {
  json j = ToJson(YAML::Load(
      "{a: 1, b: '1', c: 1.5, d: true, e: ~, f: 2s, g: [x, \"y\"], h: -3, i: .5, j: 1e3, k: 1.,"
      " l: 8Gi, m: '-', n: 1.2.3, o: 2.0e-1}"));
  EXPECT_EQ(j, json::parse(R"({"a": 1, "b": "1", "c": 1.5, "d": true, "e": null, "f": "2s",
                               "g": ["x", "y"], "h": -3, "i": 0.5, "j": 1000.0, "k": 1.0,
                               "l": "8Gi", "m": "-", "n": "1.2.3", "o": 0.2})"));
}

}  // namespace
}  // namespace weir::test
