// numpy arithmetic replicated exactly; see include/coordexp/eval/numpy_compat.hpp. Checked against numpy
// 1.24 by tests/eval (the numpy reference prints np.mean results, the C++ side must match to the bit).
#include "coordexp/eval/numpy_compat.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>

namespace coordexp {

namespace {

// numpy's PW_BLOCKSIZE and NPY_BUFSIZE.
constexpr size_t kPairwiseBlock = 128;
constexpr size_t kReduceBuffer = 8192;

double pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= kPairwiseBlock) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

}  // namespace

std::vector<double> numpy_linspace(double start, double stop, int num) {
  std::vector<double> out;
  if (num <= 0) return out;
  out.resize(size_t(num));
  if (num == 1) {
    out[0] = start;
    return out;
  }
  const double step = (stop - start) / double(num - 1);
  for (int i = 0; i < num; ++i) out[size_t(i)] = double(i) * step + start;
  out.back() = stop;
  return out;
}

double numpy_sum(std::span<const double> values) {
  double res = 0.;
  for (size_t begin = 0; begin < values.size(); begin += kReduceBuffer) {
    const size_t n = std::min(kReduceBuffer, values.size() - begin);
    res += pairwise_sum(values.data() + begin, n);
  }
  return res;
}

double numpy_mean(std::span<const double> values) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  return numpy_sum(values) / double(values.size());
}

}  // namespace coordexp
