// CoordExp forward and backward: against literals computed independently (PyTorch autograd on the naive
// full-vocabulary path, float64), against central finite differences, fused == plain == naive, and the
// argument contract (tau, K, non-finite logits, empty input).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "coordexp/loss/coord_expectation.hpp"
#include "coordexp/util/error.hpp"

namespace coordexp {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

torch::Tensor t2(std::vector<std::vector<double>> rows) {
  std::vector<torch::Tensor> r;
  for (auto& row : rows) r.push_back(torch::tensor(row, kF64));
  return torch::stack(r);
}

void expect_close(const torch::Tensor& a, const torch::Tensor& b, double tol) {
  ASSERT_EQ(a.sizes(), b.sizes());
  EXPECT_LT((a - b).abs().max().item<double>(), tol) << a << "\nvs\n" << b;
}

// Literals printed by PyTorch 1.13 (python3-torch) for logits = h W_full^T + b_full, z = logits[:, 3:8],
// c = softmax(z / 0.7) . phi, backward of sum(g * c) with g = (1, -2, 0.5).
TEST(CoordExpectation, MatchesIndependentReferenceLiterals) {
  auto h = t2({{0.3, -1.2, 0.5, 2.0}, {1.1, 0.4, -0.7, 0.0}, {-0.5, 0.25, 1.5, -1.0}}).requires_grad_(true);
  auto W = t2({{0.7833269096274835, 0.8016199408837772, 0.8191915683009984, 0.8360259786005205},
               {0.9320390859672264, 0.9608350642060727, 0.9818535303723598, 0.9949243497775809},
               {0.9974949866040544, 0.9968650284539189, 0.9738476308781951, 0.9289597150038692},
               {0.9738476308781951, 0.9050905633252009, 0.7965654722360865, 0.6530407515722648},
               {0.8632093666488737, 0.6972777382599378, 0.48082261498864787, 0.2295279470212642}})
               .requires_grad_(true);
  auto b = torch::tensor({0.03, 0.04, 0.05, 0.06, 0.07}, kF64).requires_grad_(true);
  auto c = coord_expectation(h, W, b, 0.7);
  expect_close(c, torch::tensor({0.35465799683171595, 0.5563739108455632, 0.5135222888077585}, kF64), 1e-13);
  (c * torch::tensor({1.0, -2.0, 0.5}, kF64)).sum().backward();
  expect_close(
      h.grad(),
      t2({{0.021264905727918976, 0.006377154779984767, -0.014077651385109826, -0.039116595221598806},
          {-0.017765481554108425, 0.049642267893047626, 0.13513864558700517, 0.23339188925433066},
          {0.006432062726963193, -0.009892335569387692, -0.030783519647850203, -0.05496985117936892}}),
      1e-13);
  expect_close(W.grad(),
               t2({{0.25987297011610744, 0.21774203935395545, -0.3240166729067883, -0.1656949161080326},
                   {0.1753754606080138, 0.11297381631636737, -0.18994026049524024, -0.06252690937292318},
                   {0.05434078519573072, -0.0542892796080065, 0.0016549016634209517, 0.11381832127878845},
                   {-0.13546423428223775, -0.12751448433806556, 0.17791712074490418, 0.10738759852909402},
                   {-0.35412498163761386, -0.14891209172425074, 0.3343849109937033, 0.007015905673073516}}),
               1e-13);
  expect_close(b.grad(),
               torch::tensor({0.055277716547718306, 0.06915054848916184, 0.08711817629320524,
                              -0.019081322846895732, -0.19246511848318923},
                             kF64),
               1e-13);
}

// Central differences of L = sum(g * c) in float64.
template <typename F>
torch::Tensor numeric_grad(F loss, torch::Tensor x, double eps = 1e-6) {
  auto g = torch::zeros_like(x);
  auto flat = x.view(-1);
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double orig = flat[i].item<double>();
    flat[i] = orig + eps;
    const double up = loss().template item<double>();
    flat[i] = orig - eps;
    const double down = loss().template item<double>();
    flat[i] = orig;
    g.view(-1)[i] = (up - down) / (2 * eps);
  }
  return g;
}

TEST(CoordExpectation, FusedGradientsMatchFiniteDifferences) {
  torch::manual_seed(0);
  for (double tau : {0.3, 1.0, 2.5}) {
    SCOPED_TRACE(tau);
    auto h = torch::randn({6, 8}, kF64), W = torch::randn({11, 8}, kF64), b = torch::randn({11}, kF64);
    auto g = torch::randn({6}, kF64);
    auto hv = h.clone().requires_grad_(true), Wv = W.clone().requires_grad_(true),
         bv = b.clone().requires_grad_(true);
    (coord_expectation(hv, Wv, bv, tau) * g).sum().backward();
    torch::NoGradGuard ng;
    auto loss = [&] { return (coord_expectation(h, W, b, tau) * g).sum(); };
    expect_close(hv.grad(), numeric_grad(loss, h), 1e-8);
    expect_close(Wv.grad(), numeric_grad(loss, W), 1e-8);
    expect_close(bv.grad(), numeric_grad(loss, b), 1e-8);
  }
}

TEST(CoordExpectation, PlainPathGradientIsPTimesPhiMinusCOverTau) {
  torch::manual_seed(1);
  const double tau = 0.5;
  auto z = torch::randn({4, 7}, kF64).requires_grad_(true);
  auto c = coord_expectation_from_logits(z, tau);
  c.sum().backward();
  auto p = torch::softmax(z.detach() / tau, 1);
  auto phi = torch::arange(7, kF64) / 6.0;
  expect_close(z.grad(), p * (phi.unsqueeze(0) - c.detach().unsqueeze(1)) / tau, 1e-14);
  torch::NoGradGuard ng;
  auto zz = z.detach().clone();
  auto g = torch::randn({4}, kF64);
  auto zv = zz.clone().requires_grad_(true);
  {
    torch::AutoGradMode on(true);
    (coord_expectation_from_logits(zv, tau) * g).sum().backward();
  }
  expect_close(zv.grad(),
               numeric_grad([&] { return (coord_expectation_from_logits(zz, tau) * g).sum(); }, zz), 1e-8);
}

TEST(CoordExpectation, FusedEqualsPlainEqualsNaiveFullVocabulary) {
  torch::manual_seed(2);
  const int64_t V = 50, first = 20, K = 16;
  auto h = torch::randn({5, 12}, kF64), Wfull = torch::randn({V, 12}, kF64);
  auto naive_logits = torch::matmul(h, Wfull.t()).narrow(1, first, K);
  auto fused = coord_expectation(h, Wfull.narrow(0, first, K), torch::Tensor(), 1.3);
  auto plain = coord_expectation_from_logits(naive_logits, 1.3);
  expect_close(fused, plain, 1e-14);
  // the expectation lies in [0, 1] and sharp logits give the bin's value
  EXPECT_GE(fused.min().item<double>(), 0);
  EXPECT_LE(fused.max().item<double>(), 1);
  auto sharp = torch::full({1, K}, -1e4, kF64);
  sharp[0][5] = 0;
  EXPECT_NEAR(coord_expectation_from_logits(sharp, 1.0).item<double>(), 5.0 / (K - 1), 1e-12);
}

TEST(CoordExpectation, GradientsReachASliceOfTheLmHead) {
  auto Wfull = torch::randn({30, 4}).requires_grad_(true);
  auto h = torch::randn({3, 4});
  coord_expectation(h, Wfull.narrow(0, 10, 8), torch::Tensor(), 1.0).sum().backward();
  EXPECT_EQ(Wfull.grad().narrow(0, 0, 10).abs().sum().item<double>(), 0);
  EXPECT_GT(Wfull.grad().narrow(0, 10, 8).abs().sum().item<double>(), 0);
  EXPECT_EQ(Wfull.grad().narrow(0, 18, 12).abs().sum().item<double>(), 0);
}

TEST(CoordExpectation, BadArgumentsAreNamed) {
  auto h = torch::randn({2, 4}), W = torch::randn({5, 4});
  for (double tau : {0.0, -1.0, std::nan(""), double(INFINITY)}) {
    try {
      coord_expectation(h, W, torch::Tensor(), tau);
      ADD_FAILURE() << "tau " << tau << " accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("tau"), std::string::npos);
    }
  }
  EXPECT_THROW(coord_expectation(h, torch::randn({1, 4}), torch::Tensor(), 1.0), InputError);  // K < 2
  EXPECT_THROW(coord_expectation(h, torch::randn({5, 3}), torch::Tensor(), 1.0), InputError);  // D mismatch
  EXPECT_THROW(coord_expectation(h, W, torch::randn({4}), 1.0), InputError);                   // bias size
  auto bad = h.clone();
  bad[1][2] = std::nan("");
  try {
    coord_expectation(bad, W, torch::Tensor(), 1.0);
    ADD_FAILURE() << "NaN accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("coordinate position 1"), std::string::npos) << e.what();
  }
  auto inf_logits = torch::zeros({1, 5});
  inf_logits[0][0] = INFINITY;
  EXPECT_THROW(coord_expectation_from_logits(inf_logits, 1.0), InputError);
  // -inf on some bins is a legal mask
  auto masked = torch::zeros({1, 5});
  masked[0][0] = -INFINITY;
  EXPECT_NEAR(coord_expectation_from_logits(masked, 1.0).item<double>(), (0.25 + 0.5 + 0.75 + 1.0) / 4, 1e-6);
}

TEST(CoordExpectation, EmptyInputGivesEmptyOutputAndZeroGradient) {
  auto W = torch::randn({5, 4}).requires_grad_(true);
  auto c = coord_expectation(torch::zeros({0, 4}), W, torch::Tensor(), 1.0);
  EXPECT_EQ(c.numel(), 0);
  c.sum().backward();
  EXPECT_EQ(W.grad().abs().sum().item<double>(), 0);
}

}  // namespace
}  // namespace coordexp
