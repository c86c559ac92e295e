// body_codec.h: how the SQLite store packs a message's text and HTML against its template.
//
// Why: a reminder's rendered body (~3.9 KB with the shipped layout) was the largest write of
// a send, a page of its own in message_bodies, and storing it cost more than a third of the
// worker's time (issue 9: 8,700 reminders/s with it, 11,500/s without). Most of those bytes
// are the template's own layout, the same in every message. Compressed with lz4 against the
// template's text (the dictionary), a body keeps only what is its own: ~850 bytes.
//
// A dictionary is the template's text, never a shopper's data, so what a forgotten
// shopper leaves behind is nothing: the dictionaries stay, the packed bodies go.
//
// Packed value (a BLOB): one format byte (kPackedFormat), the unpacked length as LEB128,
// then one lz4 block compressed against the dictionary. A value that is TEXT was stored as
// it is (older rows, short parts, parts without a dictionary).
#ifndef CARTRECOVERY_SRC_STORE_BODY_CODEC_H_
#define CARTRECOVERY_SRC_STORE_BODY_CODEC_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace cartrecovery {
namespace internal {

constexpr unsigned char kPackedFormat = 1;

// Packs parts against one dictionary. lz4 hashes a dictionary before it can use it (~30k
// instructions for a 5 KB template, more than packing a part): done once here, and the
// hashed state copied for each part, as lz4.h allows.
class BodyPacker {
 public:
  explicit BodyPacker(std::shared_ptr<const std::string> dictionary);
  ~BodyPacker();
  BodyPacker(const BodyPacker&) = delete;
  BodyPacker& operator=(const BodyPacker&) = delete;

  // `part` packed; nullopt when packing does not pay (a short part, or a result no smaller
  // than the part): the part is then stored as it is.
  std::optional<std::string> Pack(const std::string& part) const;
  const std::string& dictionary() const { return *dictionary_; }

 private:
  struct Loaded;  // the hashed dictionary (lz4's stream state)
  std::shared_ptr<const std::string> dictionary_;
  std::unique_ptr<Loaded> loaded_;
};

// The part back from PackBodyPart's bytes and the same dictionary. Error(kStorage) naming
// what is wrong when the bytes are not such a value (a row edited by hand, a torn file).
std::string UnpackBodyPart(const char* packed, size_t size, const std::string& dictionary);

// The dictionary's name in the store: its SHA-256 in hex, so that every process finds the
// same row for the same template text.
std::string DictionaryDigest(const std::string& dictionary);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_STORE_BODY_CODEC_H_
