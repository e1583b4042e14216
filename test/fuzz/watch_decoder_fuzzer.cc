// The watch stream decoder (kube::WatchDecoder): the input is a watch
// response body, malformed or not. It is decoded whole, byte by byte (every
// split point: HTTP chunks end anywhere, in the middle of a line or of a
// UTF-8 sequence) and in chunks of a size taken from the input's length.
// Checks, beyond memory safety: the three give the same events and the same
// final status.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz.h"
#include "kube/watch_decoder.h"

namespace weir::fuzz {
namespace {

// Every event and the end status, as text, feeding `body` in pieces of
// `chunk` bytes.
std::vector<std::string> Decode(absl::string_view body, size_t chunk) {
  kube::WatchDecoder decoder;
  std::vector<std::string> out;
  kube::WatchEvent event;
  auto drain = [&] {
    while (decoder.Next(&event)) {
      // Code and message: Status::ToString orders payloads at random.
      out.push_back(absl::StrCat(kube::EventTypeName(event.type), " ", event.object.dump(), " ",
                                 event.error.code(), " ", event.error.message()));
    }
  };
  for (size_t at = 0; at < body.size(); at += chunk) {
    decoder.Feed(body.substr(at, chunk));
    drain();
  }
  decoder.Finish();
  drain();
  out.push_back(absl::StrCat(decoder.status().code(), " ", decoder.status().message()));
  return out;
}

}  // namespace
}  // namespace weir::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view body = weir::fuzz::AsText(data, size);
  std::vector<std::string> whole = weir::fuzz::Decode(body, body.size() + 1);
  weir::fuzz::Check(weir::fuzz::Decode(body, 1) == whole, "byte by byte differs");
  weir::fuzz::Check(weir::fuzz::Decode(body, 1 + size % 61) == whole, "chunked differs");
  return 0;
}
