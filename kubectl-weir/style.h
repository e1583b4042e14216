// Colour for kubectl-weir's text output, and the rule that decides whether
// there is any: only when stdout is a terminal, never when NO_COLOR is set
// to a non-empty value (https://no-color.org) and never on TERM=dumb.
//
// Style is plain data and its functions are pure: they wrap text in ANSI SGR
// sequences when `color` is on and return it unchanged otherwise, so the
// renderings are byte-for-byte the same as before colour was added when
// colour is off.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace weir::cli {

// `no_color` and `term`: the values of $NO_COLOR and $TERM, nullopt if unset.
bool UseColor(bool stdout_is_terminal, const std::optional<std::string>& no_color,
              const std::optional<std::string>& term);

struct Style {
  bool color = false;

  // A phase in its colour: green Succeeded, red Failed and Killed, yellow
  // Running, Retrying and Canceling, magenta Canceled, dim Skipped, Pending
  // and unknown words.
  std::string Phase(absl::string_view phase) const;
  std::string Bold(absl::string_view text) const;
  std::string Dim(absl::string_view text) const;
  std::string Red(absl::string_view text) const;
  std::string Green(absl::string_view text) const;
};

// The number of terminal columns `text` takes: UTF-8 code points, not bytes,
// and no ANSI escape sequences.
size_t VisibleWidth(absl::string_view text);

}  // namespace weir::cli
