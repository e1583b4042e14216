#include "kubectl-weir/args.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace weir::cli {
namespace {

absl::Status Bad(absl::string_view message) { return absl::InvalidArgumentError(message); }

std::optional<Kind> KindOf(absl::string_view word) {
  for (absl::string_view w : {"flow", "flows", "jobflow", "jobflows", "wjf", "jobflows.weir.dev"}) {
    if (word == w) return Kind::kFlow;
  }
  for (absl::string_view w : {"batch", "batches", "wb", "batches.weir.dev"}) {
    if (word == w) return Kind::kBatch;
  }
  return std::nullopt;
}

std::optional<Command> CommandOf(absl::string_view word) {
  if (word == "get") return Command::kGet;
  if (word == "watch") return Command::kWatch;
  if (word == "logs" || word == "log") return Command::kLogs;
  if (word == "cancel") return Command::kCancel;
  if (word == "suspend") return Command::kSuspend;
  if (word == "resume") return Command::kResume;
  if (word == "wait") return Command::kWait;
  if (word == "help") return Command::kHelp;
  return std::nullopt;
}

// "30s", "5m", "1h30m" (Go durations, as kubectl takes them) or bare seconds.
absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text) {
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds) && seconds >= 0) return absl::Seconds(seconds);
  absl::Duration d;
  if (absl::ParseDuration(text, &d) && d >= absl::ZeroDuration() && d != absl::InfiniteDuration()) {
    return d;
  }
  return Bad(absl::StrCat("invalid --timeout \"", text, "\": want a duration such as 30s or 5m"));
}

enum class Flag {
  kNamespace,
  kAllNamespaces,
  kContext,
  kKubeconfig,
  kOutput,
  kAttempt,
  kFollow,
  kStep,
  kTimeout,
  kHelp
};

struct FlagSpec {
  absl::string_view long_name;
  char short_name;  // 0: none
  bool takes_value;
  Flag flag;
};

constexpr FlagSpec kFlags[] = {
    {"namespace", 'n', true, Flag::kNamespace},
    {"all-namespaces", 'A', false, Flag::kAllNamespaces},
    {"context", 0, true, Flag::kContext},
    {"kubeconfig", 0, true, Flag::kKubeconfig},
    {"output", 'o', true, Flag::kOutput},
    {"attempt", 0, true, Flag::kAttempt},
    {"follow", 'f', false, Flag::kFollow},
    {"step", 0, true, Flag::kStep},
    {"timeout", 0, true, Flag::kTimeout},
    {"help", 'h', false, Flag::kHelp},
};

const FlagSpec* FindLong(absl::string_view name) {
  for (const FlagSpec& f : kFlags) {
    if (f.long_name == name) return &f;
  }
  return nullptr;
}
const FlagSpec* FindShort(char c) {
  for (const FlagSpec& f : kFlags) {
    if (f.short_name != 0 && f.short_name == c) return &f;
  }
  return nullptr;
}

struct Seen {
  bool output = false, attempt = false, follow = false, step = false, timeout = false,
       all_namespaces = false, help = false;
};

absl::Status Apply(const FlagSpec& spec, std::string value, Invocation& inv, Seen& seen) {
  switch (spec.flag) {
    case Flag::kNamespace:
      if (value.empty()) return Bad("--namespace needs a value");
      inv.ns = std::move(value);
      break;
    case Flag::kAllNamespaces:
      inv.all_namespaces = seen.all_namespaces = true;
      break;
    case Flag::kContext:
      inv.context = std::move(value);
      break;
    case Flag::kKubeconfig:
      inv.kubeconfig = std::move(value);
      break;
    case Flag::kOutput:
      seen.output = true;
      if (value == "json") {
        inv.output = Output::kJson;
      } else if (value == "yaml") {
        inv.output = Output::kYaml;
      } else if (value == "dot") {
        inv.output = Output::kDot;
      } else if (value == "text" || value == "wide") {
        inv.output = Output::kText;
      } else {
        return Bad(absl::StrCat("unknown output format \"", value,
                                "\": allowed are json, yaml, dot (flows) and text"));
      }
      break;
    case Flag::kAttempt: {
      int n = 0;
      if (!absl::SimpleAtoi(value, &n) || n < 1) {
        return Bad(absl::StrCat("invalid --attempt \"", value, "\": want a number from 1"));
      }
      inv.attempt = n;
      seen.attempt = true;
      break;
    }
    case Flag::kFollow:
      inv.follow = seen.follow = true;
      break;
    case Flag::kStep:
      if (value.empty()) return Bad("--step needs a step name");
      inv.step = std::move(value);
      seen.step = true;
      break;
    case Flag::kTimeout: {
      absl::StatusOr<absl::Duration> d = ParseTimeout(value);
      if (!d.ok()) return d.status();
      inv.timeout = *d;
      seen.timeout = true;
      break;
    }
    case Flag::kHelp:
      seen.help = true;
      break;
  }
  return absl::OkStatus();
}

absl::string_view CommandName(Command c) {
  switch (c) {
    case Command::kGet:
      return "get";
    case Command::kWatch:
      return "watch";
    case Command::kLogs:
      return "logs";
    case Command::kCancel:
      return "cancel";
    case Command::kSuspend:
      return "suspend";
    case Command::kResume:
      return "resume";
    case Command::kWait:
      return "wait";
    case Command::kHelp:
      break;
  }
  return "help";
}

}  // namespace

absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args) {
  Invocation inv;
  Seen seen;
  std::vector<std::string> words;
  bool only_words = false;  // after "--"
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_words || a.size() < 2 || a[0] != '-') {
      words.push_back(a);
      continue;
    }
    if (a == "--") {
      only_words = true;
      continue;
    }
    const FlagSpec* spec = nullptr;
    std::optional<std::string> value;
    if (absl::StartsWith(a, "--")) {
      absl::string_view body = absl::string_view(a).substr(2);
      size_t eq = body.find('=');
      spec = FindLong(body.substr(0, eq));
      if (spec == nullptr) return Bad(absl::StrCat("unknown flag: --", body.substr(0, eq)));
      if (eq != absl::string_view::npos) {
        if (!spec->takes_value) {
          return Bad(absl::StrCat("flag --", spec->long_name, " takes no value"));
        }
        value = std::string(body.substr(eq + 1));
      }
    } else {
      spec = FindShort(a[1]);
      if (spec == nullptr)
        return Bad(absl::StrCat("unknown shorthand flag: '", a.substr(1, 1), "' in ", a));
      if (a.size() > 2) {
        if (!spec->takes_value) return Bad(absl::StrCat("unknown shorthand flag: ", a));
        value = a.substr(a[2] == '=' ? 3 : 2);
      }
    }
    if (spec->takes_value && !value.has_value()) {
      if (i + 1 >= args.size()) {
        return Bad(absl::StrCat("flag needs an argument: --", spec->long_name));
      }
      value = args[++i];
    }
    if (absl::Status s = Apply(*spec, value.value_or(""), inv, seen); !s.ok()) return s;
  }
  if (seen.help || words.empty()) {
    inv.command = Command::kHelp;
    return inv;
  }
  std::optional<Command> command = CommandOf(words[0]);
  if (!command.has_value()) {
    return Bad(absl::StrCat("unknown command \"", words[0], "\" (see kubectl weir help)"));
  }
  inv.command = *command;
  if (inv.command == Command::kHelp) return inv;
  const absl::string_view cmd = CommandName(inv.command);

  // The object: KIND NAME or KIND/NAME.
  std::vector<std::string> rest(words.begin() + 1, words.end());
  if (rest.empty()) {
    return Bad(
        absl::StrCat(cmd, " needs an object: flow NAME, flow/NAME, batch NAME or batch/NAME"));
  }
  std::string kind_word = rest[0];
  size_t next = 1;
  if (size_t slash = kind_word.find('/'); slash != std::string::npos) {
    inv.name = kind_word.substr(slash + 1);
    kind_word.resize(slash);
    if (inv.name.empty()) return Bad(absl::StrCat("\"", rest[0], "\" names no object"));
  } else if (rest.size() > 1) {
    inv.name = rest[1];
    next = 2;
  }
  std::optional<Kind> kind = KindOf(absl::AsciiStrToLower(kind_word));
  if (!kind.has_value()) {
    return Bad(absl::StrCat("unknown kind \"", kind_word, "\": want flow or batch"));
  }
  inv.kind = *kind;
  std::vector<std::string> extra(rest.begin() + next, rest.end());
  if (inv.command == Command::kLogs && inv.kind == Kind::kFlow) {
    if (extra.empty()) return Bad("logs flow/NAME needs a STEP (kubectl weir logs flow/NAME STEP)");
    inv.step = extra[0];
    extra.erase(extra.begin());
  }
  if (!extra.empty()) return Bad(absl::StrCat("unexpected argument \"", extra[0], "\""));

  // Which flags go with which command.
  if (inv.name.empty() && inv.command != Command::kGet) {
    return Bad(absl::StrCat(cmd, " needs the object's NAME"));
  }
  if (inv.all_namespaces && !(inv.command == Command::kGet && inv.name.empty())) {
    return Bad("-A/--all-namespaces goes with a list (kubectl weir get flows -A), not with a name");
  }
  if (seen.output && inv.command != Command::kGet) {
    return Bad(absl::StrCat("-o/--output goes with get, not with ", cmd));
  }
  if (inv.output == Output::kDot && !(inv.kind == Kind::kFlow && !inv.name.empty())) {
    return Bad("-o dot draws one flow: kubectl weir get flow NAME -o dot");
  }
  if ((seen.attempt || seen.follow) && inv.command != Command::kLogs) {
    return Bad(absl::StrCat(seen.attempt ? "--attempt" : "-f/--follow",
                            " goes with logs, not with ", cmd));
  }
  if (seen.step && !(inv.command == Command::kCancel && inv.kind == Kind::kFlow)) {
    return Bad("--step goes with cancel flow/NAME");
  }
  if (seen.timeout && inv.command != Command::kWait) {
    return Bad(absl::StrCat("--timeout goes with wait, not with ", cmd));
  }
  if (inv.kind == Kind::kBatch &&
      (inv.command == Command::kWatch || inv.command == Command::kSuspend ||
       inv.command == Command::kResume)) {
    return Bad(absl::StrCat(cmd, " works on flows only (a Batch has no ",
                            inv.command == Command::kWatch ? "steps to draw" : "spec.suspend",
                            ")"));
  }
  return inv;
}

const char* UsageText() {
  return R"(kubectl weir: see and steer weir's JobFlows and Batches (weir.dev).

Usage:
  kubectl weir get flow NAME [-o json|yaml|dot]   the flow's steps as a tree
  kubectl weir get batch NAME [-o json|yaml]      the Batch's attempts
  kubectl weir get flows|batches [-A]             a list
  kubectl weir watch flow NAME                    redraws the tree as it changes, until it ends
  kubectl weir logs flow/NAME STEP [--attempt N] [-f]
  kubectl weir logs batch/NAME [--attempt N] [-f] the main container of an attempt (default: the last)
  kubectl weir cancel batch/NAME
  kubectl weir cancel flow/NAME [--step STEP]     the whole flow, or one step
  kubectl weir suspend flow/NAME                  no new step starts; running ones go on
  kubectl weir resume flow/NAME
  kubectl weir wait flow/NAME|batch/NAME [--timeout 10m]
                                                  exit 0 once Succeeded, 1 if it ended otherwise

Flags: -n/--namespace, -A/--all-namespaces, --context, --kubeconfig (else $KUBECONFIG, else
~/.kube/config), -o/--output. Colour only on a terminal, never with NO_COLOR set.
Exit status: 0 ok, 1 error (the message names what was wrong).
)";
}

}  // namespace weir::cli
