#include "api/jobspec.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/json_fields.h"
#include "api/quantity.h"

namespace weir::api {

using json = nlohmann::json;
using internal::FieldError;
using internal::FieldPath;

namespace {

// `value` (at `path`), if not null, must be an object whose values are all strings.
absl::Status ExpectStringMap(const json* value, absl::string_view path) {
  if (value == nullptr) return absl::OkStatus();
  WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(*value, path));
  for (auto it = value->begin(); it != value->end(); ++it) {
    if (!it->is_string()) {
      return FieldError(FieldPath(path, it.key()),
                        absl::StrCat("must be a string, got ", internal::DescribeJson(*it)));
    }
  }
  return absl::OkStatus();
}

absl::Status ExpectQuantityMap(const json* value, absl::string_view path) {
  if (value == nullptr) return absl::OkStatus();
  WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(*value, path));
  for (auto it = value->begin(); it != value->end(); ++it) {
    std::string item_path = FieldPath(path, it.key());
    std::string text;
    if (it->is_string()) {
      text = it->get<std::string>();
    } else if (it->is_number()) {
      text = it->dump();
    } else {
      return FieldError(item_path,
                        absl::StrCat("must be a quantity, got ", internal::DescribeJson(*it)));
    }
    absl::StatusOr<Quantity> q = Quantity::Parse(text);
    if (!q.ok()) {
      return FieldError(item_path,
                        absl::StrCat(internal::QuoteForMessage(text), " is not a quantity"));
    }
    if (q->Sign() < 0) {
      return FieldError(
          item_path, absl::StrCat("must not be negative, got ", internal::QuoteForMessage(text)));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateContainers(const json& pod_spec, absl::string_view key, absl::string_view path,
                                bool required, std::set<std::string>* names) {
  const json* list = internal::Member(pod_spec, key);
  if (list == nullptr) {
    if (required) return FieldError(path, "required: at least one container");
    return absl::OkStatus();
  }
  WEIR_API_RETURN_IF_ERROR(internal::ExpectArray(*list, path));
  if (required && list->empty()) return FieldError(path, "must have at least one container");
  for (size_t i = 0; i < list->size(); ++i) {
    const json& c = (*list)[i];
    std::string c_path = internal::IndexPath(path, i);
    WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(c, c_path));
    std::string name_path = FieldPath(c_path, "name");
    std::string name;
    bool has_name = false;
    WEIR_API_RETURN_IF_ERROR(internal::ReadString(c, "name", name_path, &name, &has_name));
    if (!has_name) return FieldError(name_path, "required");
    if (!internal::IsDns1123Label(name)) {
      return FieldError(name_path, absl::StrCat(internal::QuoteForMessage(name),
                                                " is not a valid container name: it must be a "
                                                "DNS-1123 label (lowercase letters, digits and "
                                                "'-', at most 63 characters)"));
    }
    if (!names->insert(name).second) {
      return FieldError(name_path,
                        absl::StrCat("duplicate container name ", internal::QuoteForMessage(name)));
    }
    if (const json* resources = internal::Member(c, "resources"); resources != nullptr) {
      std::string r_path = FieldPath(c_path, "resources");
      WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(*resources, r_path));
      WEIR_API_RETURN_IF_ERROR(
          ExpectQuantityMap(internal::Member(*resources, "limits"), FieldPath(r_path, "limits")));
      WEIR_API_RETURN_IF_ERROR(ExpectQuantityMap(internal::Member(*resources, "requests"),
                                                 FieldPath(r_path, "requests")));
    }
  }
  return absl::OkStatus();
}

bool HasStringName(const json& item) {
  if (!item.is_object()) return false;
  auto it = item.find("name");
  return it != item.end() && it->is_string();
}

// A list that merges by name: every item is an object with a string name.
bool IsNamedList(const json& list) {
  if (!list.is_array()) return false;
  for (const json& item : list) {
    if (!HasStringName(item)) return false;
  }
  return true;
}

// `value` without null object members, at any depth. Null list items stay.
json DropNulls(const json& value) {
  if (value.is_object()) {
    json out = json::object();
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (!it->is_null()) out[it.key()] = DropNulls(*it);
    }
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const json& item : value) out.push_back(DropNulls(item));
    return out;
  }
  return value;
}

json Merge(const json& base, const json& patch) {
  if (patch.is_object()) {
    json out = base.is_object() ? base : json::object();
    for (auto it = patch.begin(); it != patch.end(); ++it) {
      if (it->is_null()) {
        out.erase(it.key());
        continue;
      }
      auto existing = out.find(it.key());
      if (existing == out.end()) {
        out[it.key()] = DropNulls(*it);
      } else {
        *existing = Merge(*existing, *it);
      }
    }
    return out;
  }
  if (patch.is_array() && !patch.empty() && IsNamedList(patch) && IsNamedList(base)) {
    // The n-th patch item of a name goes into the n-th base item of that name
    // (names are normally unique; counting keeps repeats stable under a
    // second application of the same patch).
    json out = base;
    std::map<std::string, size_t> seen;
    for (const json& item : patch) {
      const std::string& name = item.find("name")->get_ref<const std::string&>();
      size_t wanted = seen[name]++;
      size_t count = 0;
      auto match = std::find_if(out.begin(), out.end(), [&](const json& b) {
        return b.find("name")->get_ref<const std::string&>() == name && count++ == wanted;
      });
      if (match == out.end()) {
        out.push_back(DropNulls(item));
      } else {
        *match = Merge(*match, item);
      }
    }
    return out;
  }
  return DropNulls(patch);
}

}  // namespace

json MergeJobSpec(const json& base, const json& patch) {
  if (patch.is_null()) return base;
  return Merge(base, patch);
}

absl::Status ValidateJobSpec(const json& job_spec, absl::string_view path) {
  WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(job_spec, path));
  std::string t_path = FieldPath(path, "template");
  const json* tmpl = internal::Member(job_spec, "template");
  if (tmpl == nullptr) return FieldError(t_path, "required: the pod template");
  WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(*tmpl, t_path));

  if (const json* meta = internal::Member(*tmpl, "metadata"); meta != nullptr) {
    std::string m_path = FieldPath(t_path, "metadata");
    WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(*meta, m_path));
    WEIR_API_RETURN_IF_ERROR(
        ExpectStringMap(internal::Member(*meta, "labels"), FieldPath(m_path, "labels")));
    WEIR_API_RETURN_IF_ERROR(
        ExpectStringMap(internal::Member(*meta, "annotations"), FieldPath(m_path, "annotations")));
  }

  std::string s_path = FieldPath(t_path, "spec");
  const json* pod_spec = internal::Member(*tmpl, "spec");
  if (pod_spec == nullptr) return FieldError(s_path, "required: the pod spec");
  WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(*pod_spec, s_path));
  std::set<std::string> names;
  WEIR_API_RETURN_IF_ERROR(
      ValidateContainers(*pod_spec, "containers", FieldPath(s_path, "containers"), true, &names));
  WEIR_API_RETURN_IF_ERROR(ValidateContainers(*pod_spec, "initContainers",
                                              FieldPath(s_path, "initContainers"), false, &names));
  return absl::OkStatus();
}

std::vector<std::string> ContainerNames(const json& job_spec) {
  std::vector<std::string> names;
  const json* tmpl = internal::Member(job_spec, "template");
  const json* pod_spec = tmpl == nullptr ? nullptr : internal::Member(*tmpl, "spec");
  const json* list = pod_spec == nullptr ? nullptr : internal::Member(*pod_spec, "containers");
  if (list == nullptr || !list->is_array()) return names;
  for (const json& c : *list) {
    const json* name = internal::Member(c, "name");
    if (name != nullptr && name->is_string()) names.push_back(name->get<std::string>());
  }
  return names;
}

absl::Status CheckMainContainer(const json& job_spec, absl::string_view main_container,
                                absl::string_view path) {
  if (main_container.empty()) return absl::OkStatus();
  std::vector<std::string> names = ContainerNames(job_spec);
  if (std::find(names.begin(), names.end(), main_container) != names.end()) {
    return absl::OkStatus();
  }
  return FieldError(
      path, absl::StrCat("no container named ", internal::QuoteForMessage(main_container),
                         " in the pod template (containers: ", absl::StrJoin(names, ", "), ")"));
}

}  // namespace weir::api
