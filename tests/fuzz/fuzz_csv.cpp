// Coupon CSV: the first byte picks the reader's options (header or not, column by name or
// index, a small code length), the rest is the file. Any bytes give codes and bad rows or
// an Error; every code handed out is canonical and valid, every detail is UTF-8 text.
#include <sstream>

#include "cartrecovery/offer.h"
#include "cartrecovery/text.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::istringstream in(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  cartrecovery::CsvImportOptions options;
  options.has_header = mode & 1;
  if (options.has_header && (mode & 2)) options.column_name = "code";
  else options.column_index = (mode >> 2) & 3;
  if (mode & 16) options.max_code_length = 8;
  if (mode & 32) options.delimiter = ';';
  options.max_bad_rows_kept = 50;
  uint64_t last_progress = 0;
  options.progress_every_bytes = 64;
  options.on_progress = [&](uint64_t bytes) {
    FUZZ_CHECK(bytes >= last_progress);
    last_progress = bytes;
  };
  OnlyCartrecoveryErrors("CsvCodeReader", [&] {
    cartrecovery::CsvCodeReader reader(in, options);
    cartrecovery::CsvCode code;
    while (reader.Next(&code)) {
      FUZZ_CHECK(cartrecovery::CouponCodeProblem(code.code, options.max_code_length) == nullptr);
      FUZZ_CHECK(code.line >= 1);
    }
    for (const auto& bad : reader.bad_rows()) FUZZ_CHECK(cartrecovery::IsValidUtf8(bad.detail));
  });
  return 0;
}
