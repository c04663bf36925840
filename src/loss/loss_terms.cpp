// The table of loss terms and its schedule (see loss_terms.hpp).
#include "coordexp/loss/loss_terms.hpp"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "coordexp/util/error.hpp"

namespace coordexp {

void LossTerms::add(const std::string& name, torch::Tensor value, double denominator, double weight) {
  COORDEXP_CHECK_ARG(std::isfinite(weight) && weight >= 0, "weight of " + name, "a finite weight >= 0",
                     std::to_string(weight));
  terms_[name] = LossTerm{std::move(value), denominator, weight};
}

const LossTerm& LossTerms::at(const std::string& name) const {
  auto it = terms_.find(name);
  if (it == terms_.end()) throw_input_error("loss term", "one of the computed terms", "\"" + name + "\"");
  return it->second;
}

void LossTerms::scale_weight(const std::string& name, double factor) {
  auto it = terms_.find(name);
  if (it != terms_.end()) it->second.weight *= factor;
}

std::map<std::string, double> LossTerms::denominators() const {
  std::map<std::string, double> d;
  for (const auto& [name, term] : terms_) d[name] = term.denominator;
  return d;
}

torch::Tensor LossTerms::total() const {
  return total(denominators());
}

torch::Tensor LossTerms::total(const std::map<std::string, double>& global_denominators) const {
  COORDEXP_CHECK_ARG(!terms_.empty(), "loss terms", "at least one term", "none");
  auto t = torch::zeros({}, terms_.begin()->second.value.options());
  for (const auto& [name, term] : terms_) {
    const double local = term.denominator, global = global_denominators.at(name);
    if (local > 0 && global > 0) t = t + term.weight * term.value * (local / global);
  }
  return t;
}

LossTerms LossTerms::shares(const std::map<std::string, double>& global_denominators) const {
  LossTerms out = *this;
  for (auto& [name, term] : out.terms_)
    term.value = term.value * (term.denominator / std::max(1e-300, global_denominators.at(name)));
  return out;
}

bool LossTerms::finite() const {
  if (!std::isfinite(total().item<double>())) return false;
  for (const auto& [name, term] : terms_)
    if (!std::isfinite(term.value.item<double>())) return false;
  return true;
}

std::string LossTerms::describe() const {
  std::ostringstream s;
  s << "total=" << total().item<double>();
  for (const auto& [name, term] : terms_)
    s << " " << name << "=" << term.value.item<double>() << " (w " << term.weight << ")";
  return s.str();
}

double LossSchedule::factor(const std::string& term, int64_t step) const {
  if (ramp_steps <= 0 || step >= ramp_steps || !ramped.count(term)) return 1.0;
  return static_cast<double>(step) / static_cast<double>(ramp_steps);
}

void LossSchedule::apply(LossTerms& terms, int64_t step) const {
  for (const auto& name : ramped) terms.scale_weight(name, factor(name, step));
}

}  // namespace coordexp
