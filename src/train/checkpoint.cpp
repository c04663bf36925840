// Atomic checkpoint writing and checked loading (see checkpoint.hpp).
#include "coordexp/train/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

void fsync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

int64_t read_scalar(torch::serialize::InputArchive& ar, const char* key, const std::string& path) {
  torch::Tensor t;
  if (!ar.try_read(key, t) || t.numel() != 1)
    throw_input_error(path + ": " + key, "a scalar entry in a coordexp checkpoint", "nothing",
                      "is this file a coordexp checkpoint?");
  return t.item<int64_t>();
}

}  // namespace

void save_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta) {
  torch::serialize::OutputArchive ar, model_ar, optim_ar;
  if (meta.trainable_only) {
    for (const auto& p : model.named_parameters())
      if (p.value().requires_grad()) model_ar.write(p.key(), p.value());
    ar.write("trainable_only", torch::tensor(int64_t{1}));
  } else {
    model.save(model_ar);
  }
  ar.write("model", model_ar);
  if (optimizer) {
    optimizer->save(optim_ar);
    ar.write("optimizer", optim_ar);
  }
  ar.write("format_version", torch::tensor(kCheckpointVersion));
  ar.write("step", torch::tensor(meta.step));
  ar.write("vocab_size", torch::tensor(meta.vocab_size));
  // The archive is streamed through our own checked write(2) loop: a short write (full disk, file size
  // limit, I/O error) is detected here rather than trusted to the archive writer, the temp file is
  // removed and the previous checkpoint stays in place.
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw_input_error("checkpoint " + path, "a writable folder",
                      std::string("cannot create ") + tmp + ": " + std::strerror(errno),
                      "the previous checkpoint, if any, is unchanged");
  // After a failed write the rest of the archive is swallowed (reported as written): LibTorch's archive
  // writer terminates the process when its sink comes up short inside a destructor.
  int write_errno = 0;
  auto writer = [&](const void* data, size_t n) -> size_t {
    const char* p = static_cast<const char*>(data);
    size_t done = 0;
    while (done < n && write_errno == 0) {
      const ssize_t w = ::write(fd, p + done, n - done);
      if (w > 0)
        done += static_cast<size_t>(w);
      else if (w < 0 && errno == EINTR)
        continue;
      else
        write_errno = w < 0 ? errno : ENOSPC;
    }
    return n;
  };
  std::string failure;
  try {
    ar.save_to(writer);
  } catch (const c10::Error& e) {
    failure = e.what_without_backtrace();
  }
  if (write_errno == 0 && failure.empty() && ::fsync(fd) != 0) write_errno = errno;
  if (::close(fd) != 0 && write_errno == 0 && failure.empty()) write_errno = errno;
  if (write_errno != 0 || !failure.empty()) {
    std::remove(tmp.c_str());
    throw_input_error("checkpoint " + path, "a writable folder with free space",
                      "a write failure on " + tmp + ": " +
                          (write_errno != 0 ? std::string(std::strerror(write_errno)) : failure),
                      "the previous checkpoint, if any, is unchanged");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw_input_error("checkpoint " + path, "a successful rename of " + tmp, ec.message(),
                      "the previous checkpoint, if any, is unchanged");
  }
  fsync_file(std::filesystem::path(path).parent_path().empty()
                 ? "."
                 : std::filesystem::path(path).parent_path().string());
}

CheckpointMeta load_checkpoint(const std::string& path, torch::nn::Module& model,
                               torch::optim::Optimizer* optimizer, int64_t expected_vocab_size) {
  if (!std::filesystem::exists(path))
    throw_input_error("checkpoint " + path, "an existing file", "no such file");
  torch::serialize::InputArchive ar;
  try {
    ar.load_from(path);
  } catch (const c10::Error& e) {
    throw_input_error("checkpoint " + path, "a LibTorch archive written by coordexp", "an unreadable file",
                      e.what_without_backtrace());
  }
  const int64_t version = read_scalar(ar, "format_version", path);
  if (version != kCheckpointVersion)
    throw_input_error(path + ": format_version", std::to_string(kCheckpointVersion), std::to_string(version));
  CheckpointMeta meta;
  meta.step = read_scalar(ar, "step", path);
  meta.vocab_size = read_scalar(ar, "vocab_size", path);
  if (meta.vocab_size != expected_vocab_size)
    throw_input_error(
        path + ": vocab_size", std::to_string(expected_vocab_size) + " (the current tokenizer's)",
        std::to_string(meta.vocab_size), "a checkpoint from another vocabulary cannot be resumed");
  torch::Tensor flag;
  meta.trainable_only = ar.try_read("trainable_only", flag) && flag.item<int64_t>() == 1;
  try {
    torch::serialize::InputArchive model_ar;
    ar.read("model", model_ar);
    if (meta.trainable_only) {
      torch::NoGradGuard no_grad;
      for (auto& p : model.named_parameters()) {
        if (!p.value().requires_grad()) continue;
        torch::Tensor saved;
        if (!model_ar.try_read(p.key(), saved) || !saved.sizes().equals(p.value().sizes()))
          throw_input_error(path + ": parameter " + p.key(), "shape " + c10::str(p.value().sizes()),
                            saved.defined() ? c10::str(saved.sizes()) : std::string("none"),
                            "a checkpoint of other trainable parameters (another adapter or run config?)");
        p.value().copy_(saved);
      }
    } else {
      model.load(model_ar);
    }
    if (optimizer) {
      torch::serialize::InputArchive optim_ar;
      ar.read("optimizer", optim_ar);
      optimizer->load(optim_ar);
    }
  } catch (const c10::Error& e) {
    throw_input_error("checkpoint " + path, "parameters matching the configured model", "a mismatch",
                      e.what_without_backtrace());
  }
  return meta;
}

bool checkpoint_is_trainable_only(const std::string& path) {
  if (!std::filesystem::exists(path)) return false;
  torch::serialize::InputArchive ar;
  try {
    ar.load_from(path);
  } catch (const c10::Error&) {
    return false;
  }
  torch::Tensor flag;
  return ar.try_read("trainable_only", flag) && flag.item<int64_t>() == 1;
}

}  // namespace coordexp
