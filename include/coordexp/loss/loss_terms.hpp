// The training objective as a table of named terms, composed in one place. Each term is a weighted mean,
// numerator / denominator, with the denominator a sum of sample weights (tokens, coordinates, matched
// pairs, predicted objects); each has a weight. The weight table may follow a schedule (LossSchedule: the
// coordinate terms ramp in), and the total is
//   sum over terms of weight * value * (local denominator / global denominator),
// where the global denominators are the local ones in one process and their sums over ranks in data-parallel
// training, so that the sum over ranks of each rank's total is the loss of the whole global batch.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>

namespace coordexp {

struct LossTerm {
  torch::Tensor value;     // scalar, unweighted
  double denominator = 0;  // sum of the weights its mean was taken over (0: the term had nothing to average)
  double weight = 0;       // its weight in the total
};

class LossTerms {
 public:
  // Adds (or replaces) the term `name`.
  void add(const std::string& name, torch::Tensor value, double denominator, double weight);
  bool has(const std::string& name) const { return terms_.count(name) > 0; }
  const LossTerm& at(const std::string& name) const;  // InputError naming the term when absent
  const torch::Tensor& value(const std::string& name) const { return at(name).value; }
  const std::map<std::string, LossTerm>& terms() const { return terms_; }
  // Multiplies the weight of `name` by `factor` (a schedule); absent terms are left alone.
  void scale_weight(const std::string& name, double factor);

  std::map<std::string, double> denominators() const;
  // The weighted sum of the terms in name order; a term whose local or global denominator is 0 adds nothing.
  torch::Tensor total() const;
  torch::Tensor total(const std::map<std::string, double>& global_denominators) const;
  // Every term's value scaled by local / global denominator: this rank's share of the global mean (data
  // parallel logging sums these over ranks).
  LossTerms shares(const std::map<std::string, double>& global_denominators) const;
  bool finite() const;           // the total and every term are finite
  std::string describe() const;  // "total=... text_ce=... (w 1) ..."

 private:
  std::map<std::string, LossTerm> terms_;
};

// The weight schedule: each term named in `ramped` has its weight multiplied by step / ramp_steps for the
// first ramp_steps steps (0 at step 0), so a new loss enters training gradually.
struct LossSchedule {
  int64_t ramp_steps = 0;
  std::set<std::string> ramped;
  double factor(const std::string& term, int64_t step) const;
  void apply(LossTerms& terms, int64_t step) const;
};

}  // namespace coordexp
