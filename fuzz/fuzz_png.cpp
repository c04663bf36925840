// Fuzzes decode_png (libpng behind an in-memory reader with a setjmp error handler and a size cap). Bad
// bytes are an InputError; an image that decodes must have width * height * 3 bytes and survive an
// encode / decode round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "coordexp/data/image.hpp"
#include "coordexp/util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  coordexp::ImageRGB8 image;
  try {
    image = coordexp::decode_png(bytes, "fuzz.png");
  } catch (const coordexp::InputError&) {
    return 0;
  }
  if (image.width() <= 0 || image.height() <= 0 || image.width() > coordexp::kMaxImageSide ||
      image.height() > coordexp::kMaxImageSide)
    std::abort();
  if (image.pixels().size() != static_cast<size_t>(image.width()) * image.height() * 3) std::abort();
  if (static_cast<size_t>(image.width()) * image.height() <= (1u << 20)) {
    const coordexp::ImageRGB8 again = coordexp::decode_png(coordexp::encode_png(image, 1), "again");
    if (!(again == image)) std::abort();
  }
  return 0;
}
