#include "test/support/yaml_json.h"

#include <string>

namespace weir::test {
namespace {

bool IsDigits(const std::string& s, size_t begin, size_t end) {
  if (begin >= end) return false;
  for (size_t i = begin; i < end; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// [-+]?[0-9]+
bool IsYamlInt(const std::string& s) {
  size_t start = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  return IsDigits(s, start, s.size());
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsYamlFloat(const std::string& s) {
  size_t i = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  size_t exp = s.find_first_of("eE", i);
  std::string mantissa = s.substr(i, exp == std::string::npos ? std::string::npos : exp - i);
  size_t dot = mantissa.find('.');
  bool mantissa_ok =
      dot == std::string::npos
          ? IsDigits(mantissa, 0, mantissa.size())
          : (IsDigits(mantissa, 0, dot) || dot == 0) &&
                (dot + 1 == mantissa.size() || IsDigits(mantissa, dot + 1, mantissa.size())) &&
                mantissa.size() > 1;
  if (!mantissa_ok) return false;
  if (exp == std::string::npos) return true;
  size_t e = exp + 1;
  if (e < s.size() && (s[e] == '-' || s[e] == '+')) ++e;
  return IsDigits(s, e, s.size());
}

}  // namespace

// YAML 1.2 core schema scalars, enough for Kubernetes manifests.
nlohmann::json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = ToJson(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(ToJson(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") return s;  // quoted: always a string
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      if (s == "null" || s == "~" || s == "Null" || s == "NULL") return nullptr;
      if (IsYamlInt(s)) return std::stoll(s);
      if (IsYamlFloat(s)) return std::stod(s);
      return s;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return nullptr;
}

}  // namespace weir::test
