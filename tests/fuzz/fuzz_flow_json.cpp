// Flow documents: any bytes are a flow or a ConfigError; an accepted flow's canonical JSON
// parses again to the same canonical JSON.
#include "cartrecovery/flow.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  OnlyCartrecoveryErrors("ParseFlow", [&] {
    cartrecovery::Flow flow = cartrecovery::ParseFlow(text);
    std::string canonical = cartrecovery::FlowToJson(flow);
    std::string again;
    try {
      again = cartrecovery::FlowToJson(cartrecovery::ParseFlow(canonical));
    } catch (const cartrecovery::Error& err) {
      std::fprintf(stderr, "canonical flow JSON does not parse: %s\n%s\n", err.what(), canonical.c_str());
      std::abort();
    }
    FUZZ_CHECK(again == canonical);
  });
  return 0;
}
