// Fuzzes the safetensors reader: the input is written to a scratch file (the reader maps files; it has no
// in-memory entry point), opened with SafetensorsFile, and every tensor is viewed and converted to float32
// so any header that passes validation has its data ranges read. Only InputError may escape.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "coordexp/io/safetensors.hpp"
#include "coordexp/util/error.hpp"

namespace {

const std::filesystem::path& scratch_path() {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("coordexp_fuzz_safetensors_" + std::to_string(::getpid()));
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = scratch_path().string();
  std::FILE* out = std::fopen(file.c_str(), "wb");
  if (!out) std::abort();
  if (size && std::fwrite(data, 1, size, out) != size) std::abort();
  std::fclose(out);
  try {
    const coordexp::SafetensorsFile st(scratch_path());
    for (const std::string& name : st.names()) {
      const coordexp::TensorView view = st.view(name);
      if (view.nbytes > st.file_bytes()) std::abort();
      // Reads every byte of the range (ASan has no redzones around a mapping, but a range past the mapped
      // pages faults, and the size check catches a view that disagrees with its shape).
      const std::vector<float> values = coordexp::to_float32(view);
      if (values.size() * coordexp::safetensors_dtype_size(view.dtype) != view.nbytes) std::abort();
    }
    for (const auto& [key, value] : st.metadata()) (void)(key.size() + value.size());
  } catch (const coordexp::InputError&) {
  }
  return 0;
}
