// Reading the JSON objects the API server sends, where any field may be
// absent or of another type: the value at a path of object keys. Used by
// the test oracle, the fuzz worlds and the peers benchmark, which read
// objects without weir's typed parsers.
#pragma once

#include <initializer_list>
#include <string>

#include "nlohmann/json.hpp"

namespace weir {

// object.k1.k2...; a null json if a part is absent or not an object.
inline const nlohmann::json& JsonAt(const nlohmann::json& object,
                                    std::initializer_list<const char*> path) {
  static const nlohmann::json* const kNull = new nlohmann::json();
  const nlohmann::json* at = &object;
  for (const char* key : path) {
    if (!at->is_object()) return *kNull;
    auto it = at->find(key);
    if (it == at->end()) return *kNull;
    at = &*it;
  }
  return *at;
}

// The string at the path; "" if it is absent or not a string.
inline std::string StringAt(const nlohmann::json& object, std::initializer_list<const char*> path) {
  const nlohmann::json& value = JsonAt(object, path);
  return value.is_string() ? value.get<std::string>() : "";
}

}  // namespace weir
