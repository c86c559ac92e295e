// byte_set.h: a set of bytes as a 256-entry table, for scanners that test every byte of a
// message (HTML escaping, link checks, tokens): one load per byte instead of a chain of
// compares. Not public API.
#ifndef CARTRECOVERY_SRC_MODEL_BYTE_SET_H_
#define CARTRECOVERY_SRC_MODEL_BYTE_SET_H_

namespace cartrecovery {
namespace internal {

struct ByteSet {
  bool has[256] = {};

  // The bytes for which `in(c)` is true; constexpr when `in` is.
  template <class Pred>
  static constexpr ByteSet Where(Pred in) {
    ByteSet set;
    for (int c = 0; c < 256; ++c) set.has[c] = in(static_cast<unsigned char>(c));
    return set;
  }
  constexpr bool operator()(unsigned char c) const { return has[c]; }
};

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_MODEL_BYTE_SET_H_
