// Packed message bodies (store/body_codec.h): bytes read back from a store file are
// unpacked against a dictionary, so any bytes give a text or an Error, never a read out of
// bounds; and whatever is packed unpacks to itself. The first byte splits the input into a
// dictionary and the bytes to unpack (and to pack).
#include <memory>
#include <string>

#include "fuzz_common.h"
#include "store/body_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = rest.size() * data[0] / 256;
  auto dictionary = std::make_shared<const std::string>(rest.substr(0, split));
  const std::string bytes = rest.substr(split);
  OnlyCartrecoveryErrors("UnpackBodyPart", [&] {
    cartrecovery::internal::UnpackBodyPart(bytes.data(), bytes.size(), *dictionary);
  });
  // A valid packed value of these bytes, against the same dictionary, comes back whole.
  cartrecovery::internal::BodyPacker packer(dictionary);
  if (auto packed = packer.Pack(bytes)) {
    FUZZ_CHECK(packed->size() < bytes.size());
    FUZZ_CHECK(cartrecovery::internal::UnpackBodyPart(packed->data(), packed->size(), *dictionary) == bytes);
  }
  return 0;
}
