// stats.cpp: Wilson and Newcombe intervals for experiment reports (R6.3).
//
// Wilson's score interval and Newcombe's hybrid (method 10) are the usual recommendation
// for conversion rates (Brown, Cai & DasGupta 2001; Newcombe 1998): they keep their
// coverage for small samples and rates near 0 or 1, where the textbook p +- z*sqrt(pq/n)
// collapses to zero width or leaves [0, 1].
#include "cartrecovery/offer.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "cartrecovery/status.h"

namespace cartrecovery {

namespace {

void CheckCounts(int64_t successes, int64_t trials, double z) {
  if (trials < 0 || successes < 0 || successes > trials) {
    throw InvalidArgument("trials", "counts must satisfy 0 <= successes <= trials");
  }
  if (!(z > 0)) throw InvalidArgument("z", "must be > 0");
}

double Rate(int64_t successes, int64_t trials) {
  return trials == 0 ? 0.0 : static_cast<double>(successes) / static_cast<double>(trials);
}

}  // namespace

Interval WilsonInterval(int64_t successes, int64_t trials, double z) {
  CheckCounts(successes, trials, z);
  if (trials == 0) return {0.0, 1.0};
  const double n = static_cast<double>(trials);
  const double p = Rate(successes, trials);
  const double z2 = z * z;
  const double center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z / (1 + z2 / n) * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  // Exact bounds at the edges (the formula gives them up to rounding).
  const double low = successes == 0 ? 0.0 : std::max(0.0, center - half);
  const double high = successes == trials ? 1.0 : std::min(1.0, center + half);
  return {low, high};
}

RateDifference NewcombeDifference(int64_t successes1, int64_t trials1, int64_t successes2,
                                  int64_t trials2, double z) {
  CheckCounts(successes1, trials1, z);
  CheckCounts(successes2, trials2, z);
  RateDifference r;
  const double p1 = Rate(successes1, trials1);
  const double p2 = Rate(successes2, trials2);
  r.difference = p1 - p2;
  if (trials1 == 0 || trials2 == 0) {
    r.ci = {-1.0, 1.0};
    return r;
  }
  const Interval a = WilsonInterval(successes1, trials1, z);
  const Interval b = WilsonInterval(successes2, trials2, z);
  const double delta = std::sqrt((p1 - a.low) * (p1 - a.low) + (b.high - p2) * (b.high - p2));
  const double epsilon = std::sqrt((a.high - p1) * (a.high - p1) + (p2 - b.low) * (p2 - b.low));
  r.ci = {std::max(-1.0, r.difference - delta), std::min(1.0, r.difference + epsilon)};
  return r;
}

std::vector<VariantResult> ExperimentResults(const std::vector<VariantCounts>& counts, double z) {
  std::set<std::string> names;
  const VariantCounts* holdout = nullptr;
  for (const VariantCounts& c : counts) {
    if (!names.insert(c.variant).second) {
      throw InvalidArgument("counts", "variant '" + c.variant + "' appears twice");
    }
    if (c.variant == kHoldout) holdout = &c;
  }
  std::vector<VariantResult> out;
  out.reserve(counts.size());
  for (const VariantCounts& c : counts) {
    VariantResult r;
    r.variant = c.variant;
    r.trials = c.trials;
    r.conversions = c.conversions;
    r.ci = WilsonInterval(c.conversions, c.trials, z);
    r.rate = Rate(c.conversions, c.trials);
    if (holdout && &c != holdout) {
      r.vs_holdout = NewcombeDifference(c.conversions, c.trials, holdout->conversions,
                                        holdout->trials, z);
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace cartrecovery
