// The command line of kubectl-weir: what to do, to which object, with which
// connection and output settings (README, "kubectl weir").
//
// Contract:
// - ParseArgs never throws. A line it cannot run gives InvalidArgumentError
//   with a message for the user that names the offending word or flag
//   ("unknown flag: --foo", "logs flow/NAME needs a STEP", ...).
// - Flags may stand anywhere after the command, in kubectl's forms:
//   `-n x`, `-nx`, `--namespace x`, `--namespace=x`; boolean flags take no
//   value (`-A`, `-f`). The object is `KIND NAME` or `KIND/NAME`; KIND is
//   flow (flows, jobflow, jobflows, wjf, jobflows.weir.dev) or batch
//   (batches, wb, batches.weir.dev). A bare "jobflow" here always means
//   weir's (the plugin speaks only to weir.dev).
// - `help` (or -h/--help anywhere, or no arguments) parses to kHelp.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace weir::cli {

enum class Command { kHelp, kGet, kWatch, kLogs, kCancel, kSuspend, kResume, kWait };
enum class Kind { kFlow, kBatch };
enum class Output { kText, kJson, kYaml, kDot };

struct Invocation {
  Command command = Command::kHelp;
  Kind kind = Kind::kFlow;
  std::string name;  // empty: all of the kind (get only)
  std::string step;  // logs: the STEP argument; cancel: --step
  std::string ns;    // -n; empty: the context's namespace
  bool all_namespaces = false;
  std::string context;     // --context
  std::string kubeconfig;  // --kubeconfig
  Output output = Output::kText;
  std::optional<int> attempt;             // logs --attempt
  bool follow = false;                    // logs -f
  std::optional<absl::Duration> timeout;  // wait --timeout; unset: no limit
};

absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args);

// The usage text printed by `kubectl weir help`.
const char* UsageText();

}  // namespace weir::cli
