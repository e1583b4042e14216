// Acto-style edits of a weir object's spec, generated from its CRD schema
// (issue 18, after Acto, SOSP'23): for every field the schema declares, new
// values inside its bounds, at them and just past them, and its removal; for
// the list of named steps, removals, renames, reorderings, additions and
// changes of dependencies. Each edit is an RFC 6902 JSON patch of the whole
// object, to be sent as `kubectl patch --type=json`; the API server refuses
// the ones the schema forbids, weir must carry out the others.
//
// Pure and deterministic: the same schema, object, hints and seed give the
// same edits. Not thread-safe (EditGenerator owns its random engine).
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace weir::acto {

struct Edit {
  std::string field;         // the schema field edited: "spec.steps[].retry.limit"
  std::string what;          // for people: "spec.steps[1].retry.limit = 101 (past maximum)"
  nlohmann::json patch;      // JSON patch operations against the object
  bool past_schema = false;  // a value the schema's own bounds forbid
};

// Values worth trying for fields the schema cannot describe: the names of
// JobTemplates that exist, a simulated pod's annotations. Keyed by schema
// field ("spec.steps[].template"); a field whose schema keeps unknown fields
// (`jobSpec`, a step's `patch`) is edited only with the values given here.
using Hints = std::map<std::string, std::vector<nlohmann::json>>;

// Every field path `spec_schema` (a CRD's openAPIV3Schema of `spec`)
// declares, array items written "[]": "spec.retry.onReasons[]".
std::vector<std::string> SchemaFields(const nlohmann::json& spec_schema);

// Every edit of `object` worth trying now, at least one per field of
// SchemaFields that has a value to try.
std::vector<Edit> CandidateEdits(const nlohmann::json& spec_schema, const nlohmann::json& object,
                                 const Hints& hints);

class EditGenerator {
 public:
  EditGenerator(nlohmann::json spec_schema, Hints hints, uint64_t seed);

  // One edit of `object`: a field picked uniformly among those with
  // candidates, then one of its edits. REQUIRES: `object` has a spec.
  Edit Next(const nlohmann::json& object);

 private:
  const nlohmann::json schema_;
  const Hints hints_;
  std::mt19937_64 rng_;
};

}  // namespace weir::acto
