#include "kubectl-weir/style.h"

#include "absl/strings/str_cat.h"

namespace weir::cli {

bool UseColor(bool stdout_is_terminal, const std::optional<std::string>& no_color,
              const std::optional<std::string>& term) {
  if (!stdout_is_terminal) return false;
  if (no_color.has_value() && !no_color->empty()) return false;
  if (term.has_value() && *term == "dumb") return false;
  return true;
}

namespace {
std::string Sgr(bool on, absl::string_view code, absl::string_view text) {
  if (!on) return std::string(text);
  return absl::StrCat("\x1b[", code, "m", text, "\x1b[0m");
}
}  // namespace

std::string Style::Phase(absl::string_view phase) const {
  if (phase == "Succeeded") return Sgr(color, "32", phase);
  if (phase == "Failed" || phase == "Killed") return Sgr(color, "31", phase);
  if (phase == "Running" || phase == "Retrying" || phase == "Canceling") {
    return Sgr(color, "33", phase);
  }
  if (phase == "Canceled") return Sgr(color, "35", phase);
  return Sgr(color, "2", phase);
}
std::string Style::Bold(absl::string_view text) const { return Sgr(color, "1", text); }
std::string Style::Dim(absl::string_view text) const { return Sgr(color, "2", text); }
std::string Style::Red(absl::string_view text) const { return Sgr(color, "31", text); }
std::string Style::Green(absl::string_view text) const { return Sgr(color, "32", text); }

size_t VisibleWidth(absl::string_view text) {
  size_t width = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0x1b && i + 1 < text.size() && text[i + 1] == '[') {
      // CSI: parameters up to a final byte in 0x40..0x7e.
      i += 2;
      while (i < text.size() && !(text[i] >= 0x40 && text[i] <= 0x7e)) ++i;
      continue;
    }
    if ((c & 0xC0) != 0x80) ++width;  // not a UTF-8 continuation byte
  }
  return width;
}

}  // namespace weir::cli
