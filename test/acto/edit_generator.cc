#include "test/acto/edit_generator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace weir::acto {
namespace {

using nlohmann::json;

bool KeepsUnknownFields(const json& node) {
  return node.value("x-kubernetes-preserve-unknown-fields", false);
}

// Walks the schema beside the object, adding the edits of each field.
class Walker {
 public:
  Walker(const json& object, const Hints& hints, std::vector<Edit>* out)
      : object_(object), hints_(hints), out_(out) {}

  // `field`: the schema path ("spec.steps[].name"); `shown`: the same with
  // indexes ("spec.steps[1].name"); `at`: the JSON pointer of the value;
  // `required`: whether the parent requires it.
  void Walk(const json& node, const std::string& field, const std::string& shown,
            const json::json_pointer& at, bool required) {
    const bool exists = object_.contains(at);
    const json current = exists ? object_.at(at) : json();
    const std::string type = node.value("type", "");
    if (auto hinted = hints_.find(field); hinted != hints_.end()) {
      for (const json& v : hinted->second) {
        Set(field, shown, at, v, absl::StrCat("= ", v.dump()), false);
      }
    }
    if (exists && field != "spec") {
      Add(field, absl::StrCat(shown, " removed"),
          json::array({{{"op", "remove"}, {"path", at.to_string()}}}), required);
    }
    if (node.value("x-kubernetes-int-or-string", false)) {
      if (!hints_.contains(field)) {
        for (const json& v : {json("256Mi"), json("1Gi"), json(0)}) {
          Set(field, shown, at, v, absl::StrCat("= ", v.dump()), false);
        }
      }
      Set(field, shown, at, "lots", "= \"lots\" (not a quantity)", true);
    } else if (type == "object") {
      if (KeepsUnknownFields(node)) return;  // only what the hints give
      const json& props = node.value("properties", json::object());
      const json& req = node.value("required", json::array());
      for (auto it = props.begin(); it != props.end(); ++it) {
        const bool child_required = std::find(req.begin(), req.end(), it.key()) != req.end();
        Walk(it.value(), absl::StrCat(field, ".", it.key()), absl::StrCat(shown, ".", it.key()),
             at / it.key(), child_required);
      }
    } else if (type == "array") {
      WalkArray(node, field, shown, at, current);
    } else if (type == "boolean") {
      const bool now = current.is_boolean() && current.get<bool>();
      Set(field, shown, at, !now, absl::StrCat("= ", !now ? "true" : "false"), false);
    } else if (type == "integer") {
      const int64_t min = node.value("minimum", int64_t{0});
      const bool has_max = node.contains("maximum");
      const int64_t max = node.value("maximum", min + 100000);
      for (int64_t v : {min, min + 1, max}) Set(field, shown, at, v, absl::StrCat("= ", v), false);
      if (node.contains("minimum")) {
        Set(field, shown, at, min - 1, absl::StrCat("= ", min - 1, " (below minimum)"), true);
      }
      if (has_max) {
        Set(field, shown, at, max + 1, absl::StrCat("= ", max + 1, " (past maximum)"), true);
      }
    } else if (type == "number") {
      for (double v : {0.5, 1.0, 3.0}) Set(field, shown, at, v, absl::StrCat("= ", v), false);
    } else if (type == "string") {
      WalkString(node, field, shown, at, current);
    }
  }

 private:
  void WalkString(const json& node, const std::string& field, const std::string& shown,
                  const json::json_pointer& at, const json& current) {
    if (node.contains("enum")) {
      for (const json& v : node["enum"])
        Set(field, shown, at, v, absl::StrCat("= ", v.dump()), false);
      Set(field, shown, at, "Bogus", "= \"Bogus\" (not in the enum)", true);
      return;
    }
    if (!hints_.contains(field)) {
      const std::string v = current.is_string() ? current.get<std::string>() + "-x" : "x";
      Set(field, shown, at, v, absl::StrCat("= \"", v, "\""), false);
    }
    if (node.contains("pattern")) {
      Set(field, shown, at, "Not_A_Name", "= \"Not_A_Name\" (does not match the pattern)", true);
    }
    if (node.contains("maxLength")) {
      const size_t n = node["maxLength"].get<size_t>();
      Set(field, shown, at, std::string(n + 1, 'a'), absl::StrCat("of ", n + 1, " characters"),
          true);
    }
  }

  void WalkArray(const json& node, const std::string& field, const std::string& shown,
                 const json::json_pointer& at, const json& current) {
    const json& items = node.value("items", json::object());
    const std::string item_field = absl::StrCat(field, "[]");
    const size_t size = current.is_array() ? current.size() : 0;
    if (auto hinted = hints_.find(item_field); hinted != hints_.end()) {
      for (const json& v : hinted->second) {
        if (size == 0) {
          Set(item_field, shown, at, json::array({v}), absl::StrCat("= [", v.dump(), "]"), false);
        } else {
          Add(item_field, absl::StrCat(shown, " += ", v.dump()),
              json::array({{{"op", "add"}, {"path", (at / "-").to_string()}, {"value", v}}}),
              false);
        }
      }
    }
    if (items.value("type", "") != "object") {
      for (const json& v : items.value("enum", json::array())) {
        Set(item_field, shown, at, json::array({v}), absl::StrCat("= [", v.dump(), "]"), false);
      }
      Set(item_field, shown, at, json::array({"Bogus"}), "= [\"Bogus\"] (not in the enum)", true);
    }
    if (node.contains("maxItems") && size > 0) {
      const size_t n = node["maxItems"].get<size_t>();
      json many = json::array();
      for (size_t i = 0; i <= n; ++i) many.push_back(current[i % size]);
      Set(field, shown, at, many, absl::StrCat("of ", n + 1, " items (past maxItems)"), true);
    }
    for (size_t i = 0; i < size; ++i) {
      const std::string item_shown = absl::StrCat(shown, "[", i, "]");
      const json::json_pointer item_at = at / std::to_string(i);
      Add(item_field, absl::StrCat(item_shown, " removed"),
          json::array({{{"op", "remove"}, {"path", item_at.to_string()}}}), false);
      if (i + 1 < size) {
        Add(item_field, absl::StrCat(item_shown, " moved to the end"),
            json::array({{{"op", "move"},
                          {"from", item_at.to_string()},
                          {"path", (at / "-").to_string()}}}),
            false);
      }
      if (items.value("type", "") == "object") {
        Add(item_field, absl::StrCat(item_shown, " repeated"),
            json::array({{{"op", "add"}, {"path", (at / "-").to_string()}, {"value", current[i]}}}),
            false);
        Walk(items, item_field, item_shown, item_at, false);
      }
    }
  }

  // Sets the value at `at`, adding the absent objects on the way.
  void Set(const std::string& field, const std::string& shown, const json::json_pointer& at,
           json value, const std::string& what, bool past_schema) {
    if (object_.contains(at) && object_.at(at) == value) return;  // no edit
    json::json_pointer p = at;
    std::vector<std::string> missing;
    while (!p.empty() && !object_.contains(p)) {
      missing.push_back(p.back());
      p.pop_back();
    }
    json op;
    if (missing.empty()) {
      op = {{"op", "replace"}, {"path", at.to_string()}, {"value", std::move(value)}};
    } else {
      for (size_t i = 0; i + 1 < missing.size(); ++i) value = json{{missing[i], std::move(value)}};
      op = {{"op", "add"}, {"path", (p / missing.back()).to_string()}, {"value", std::move(value)}};
    }
    Add(field, absl::StrCat(shown, " ", what), json::array({std::move(op)}), past_schema);
  }

  void Add(const std::string& field, std::string what, json patch, bool past_schema) {
    out_->push_back({field, std::move(what), std::move(patch), past_schema});
  }

  const json& object_;
  const Hints& hints_;
  std::vector<Edit>* out_;
};

void CollectFields(const json& node, const std::string& field, std::vector<std::string>* out) {
  out->push_back(field);
  const std::string type = node.value("type", "");
  if (KeepsUnknownFields(node)) return;  // one field: edited as a whole
  if (type == "object") {
    const json& props = node.value("properties", json::object());
    for (auto it = props.begin(); it != props.end(); ++it) {
      CollectFields(it.value(), absl::StrCat(field, ".", it.key()), out);
    }
  } else if (type == "array" && node.contains("items")) {
    CollectFields(node["items"], absl::StrCat(field, "[]"), out);
  }
}

}  // namespace

std::vector<std::string> SchemaFields(const json& spec_schema) {
  std::vector<std::string> out;
  CollectFields(spec_schema, "spec", &out);
  return out;
}

std::vector<Edit> CandidateEdits(const json& spec_schema, const json& object, const Hints& hints) {
  std::vector<Edit> out;
  Walker(object, hints, &out).Walk(spec_schema, "spec", "spec", json::json_pointer("/spec"), true);
  return out;
}

EditGenerator::EditGenerator(json spec_schema, Hints hints, uint64_t seed)
    : schema_(std::move(spec_schema)), hints_(std::move(hints)), rng_(seed) {}

Edit EditGenerator::Next(const json& object) {
  std::vector<Edit> all = CandidateEdits(schema_, object, hints_);
  std::map<std::string, std::vector<size_t>> by_field;
  for (size_t i = 0; i < all.size(); ++i) by_field[all[i].field].push_back(i);
  auto field = by_field.begin();
  std::advance(field, std::uniform_int_distribution<size_t>(0, by_field.size() - 1)(rng_));
  const std::vector<size_t>& edits = field->second;
  return all[edits[std::uniform_int_distribution<size_t>(0, edits.size() - 1)(rng_)]];
}

}  // namespace weir::acto
