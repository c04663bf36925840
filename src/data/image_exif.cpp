// EXIF orientation (see image_decode.hpp): finding a JPEG's EXIF segment, reading its Orientation tag with
// libexif, and turning pixels upright as PIL.ImageOps.exif_transpose does. Reading never fails a decode: a
// missing or broken EXIF block means orientation 1.
#include <libexif/exif-data.h>

#include <algorithm>
#include <cstring>

#include "coordexp/data/image_decode.hpp"
#include "image_codecs.hpp"

namespace coordexp {

namespace image_detail {

ByteRange find_jpeg_exif(const std::uint8_t* data, std::size_t size) {
  static constexpr std::uint8_t kExifHeader[6] = {'E', 'x', 'i', 'f', 0, 0};
  std::size_t pos = 2;  // after SOI
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) return {};  // not at a marker: the header is corrupt, leave it to libjpeg
    const std::uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {  // fill byte before a marker
      ++pos;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return {};             // SOS or EOI: no EXIF before the image data
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // TEM, RSTn: no length field
      pos += 2;
      continue;
    }
    const std::size_t length =
        std::size_t{data[pos + 2]} << 8 | data[pos + 3];  // counts itself, not the marker
    if (length < 2 || length > size - pos - 2) return {};
    const std::uint8_t* payload = data + pos + 4;
    if (marker == 0xE1 && length - 2 >= sizeof kExifHeader && std::memcmp(payload, kExifHeader, 6) == 0)
      return {payload, length - 2};
    pos += 2 + length;
  }
  return {};
}

int exif_orientation_from_app1(const std::uint8_t* data, std::size_t size) {
  ExifData* exif = exif_data_new();
  if (!exif) return 1;
  // Load as stored: no "fixing" pass that adds or rewrites entries to follow the specification.
  exif_data_unset_option(exif, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
  exif_data_load_data(exif, data, static_cast<unsigned int>(std::min<std::size_t>(size, 0xFFFFFFu)));
  int orientation = 1;
  // IFD0 only, where the specification puts it and where Pillow's getexif() looks.
  if (ExifEntry* entry = exif_content_get_entry(exif->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
      entry && entry->data && entry->components >= 1) {
    const ExifByteOrder order = exif_data_get_byte_order(exif);
    if (entry->format == EXIF_FORMAT_SHORT && entry->size >= 2)
      orientation = exif_get_short(entry->data, order);
    if (entry->format == EXIF_FORMAT_LONG && entry->size >= 4)
      orientation = static_cast<int>(std::min<ExifLong>(exif_get_long(entry->data, order), 9));
  }
  exif_data_unref(exif);
  return orientation >= 1 && orientation <= 8 ? orientation : 1;
}

}  // namespace image_detail

ImageRGB8 exif_transpose(const ImageRGB8& image, int exif_orientation) {
  if (image.empty() || exif_orientation < 2 || exif_orientation > 8) return image;
  const int w = image.width(), h = image.height();
  const bool swap = exif_orientation >= 5;
  const int out_w = swap ? h : w, out_h = swap ? w : h;
  // Output pixel (x, y) comes from input (sx, sy) = (x0 + dx_x * x + dx_y * y, y0 + dy_x * x + dy_y * y).
  struct Map {
    int x0, dx_x, dx_y, y0, dy_x, dy_y;
  };
  const Map maps[9] = {
      {0, 1, 0, 0, 0, 1},            // 0 (unused)
      {0, 1, 0, 0, 0, 1},            // 1 identity
      {w - 1, -1, 0, 0, 0, 1},       // 2 mirror left-right
      {w - 1, -1, 0, h - 1, 0, -1},  // 3 rotate 180
      {0, 1, 0, h - 1, 0, -1},       // 4 mirror top-bottom
      {0, 0, 1, 0, 1, 0},            // 5 transpose
      {0, 0, 1, h - 1, -1, 0},       // 6 rotate 90 clockwise (PIL's ROTATE_270)
      {w - 1, 0, -1, h - 1, -1, 0},  // 7 transverse
      {w - 1, 0, -1, 0, 1, 0},       // 8 rotate 90 counter-clockwise (PIL's ROTATE_90)
  };
  const Map& m = maps[exif_orientation];
  ImageRGB8 out(out_w, out_h);
  for (int y = 0; y < out_h; ++y) {
    std::uint8_t* dst = out.row(y);
    for (int x = 0; x < out_w; ++x) {
      const int sx = m.x0 + m.dx_x * x + m.dx_y * y, sy = m.y0 + m.dy_x * x + m.dy_y * y;
      std::memcpy(dst + 3 * x, image.row(sy) + 3 * sx, 3);
    }
  }
  return out;
}

}  // namespace coordexp
