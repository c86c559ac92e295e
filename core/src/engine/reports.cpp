// Reading what happened: the message report, the checkout funnel, lead temperature,
// experiments, the event log; and the staff's pause switch per flow.
#include <algorithm>
#include <climits>

#include "cartrecovery/offer.h"
#include "cartrecovery/status.h"
#include "engine/engine_impl.h"

namespace cartrecovery {

std::vector<ReportRow> Engine::Report(const ReportQuery& query) {
  Flush();
  Runtime& r = impl_->R();
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  return r.store->Report(query);
}

std::vector<FunnelRow> Engine::Funnel(Millis since, Millis until) {
  Flush();
  Runtime& r = impl_->R();
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  return r.store->Funnel(since, until);
}

LeadCounts Engine::Leads(Millis since, Millis until) {
  Flush();
  Runtime& r = impl_->R();
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  return r.store->Leads(since, until);
}

std::vector<ExperimentInfo> Engine::Experiments() const {
  std::vector<ExperimentInfo> out;
  for (const auto& [kind, experiment] : impl_->opts.exit_intent.experiments)
    out.push_back({kind, "popup", "", "", 0});
  for (const Flow& f : impl_->flows)
    for (const Path& p : f.paths)
      for (size_t i = 0; i < p.steps.size(); ++i)
        if (p.steps[i].HasExperiment())
          out.push_back({p.steps[i].experiment, "step", f.name, p.name, static_cast<int>(i + 1)});
  return out;
}

std::vector<VariantResult> Engine::ExperimentReport(const std::string& name,
                                                    std::optional<Millis> since,
                                                    std::optional<Millis> until) {
  const auto experiments = Experiments();
  auto it = std::find_if(experiments.begin(), experiments.end(),
                         [&](const ExperimentInfo& e) { return e.name == name; });
  // A popup kind without an experiment still has its decisions (all without a variant).
  const bool popup = name == "coupon" || name == "email_capture";
  if (it == experiments.end() && !popup) {
    std::string known;
    for (const auto& e : experiments) known += (known.empty() ? "" : ", ") + e.name;
    throw InvalidArgument("experiment", "no experiment named '" + name + "' (known: " +
                                            (known.empty() ? "none" : known) + ")");
  }
  Flush();
  Runtime& r = impl_->R();
  std::vector<VariantCounts> counts;
  {
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    const Millis window = impl_->opts.attribution_window_ms;
    const Millis lo = since.value_or(INT64_MIN), hi = until.value_or(INT64_MAX);
    counts = popup ? r.store->OfferVariants(name, window, lo, hi)
                   : r.store->StepVariants(name, window, lo, hi);
  }
  return ExperimentResults(counts);
}

std::vector<LoggedEvent> Engine::Events(Millis since, Millis until, int64_t after_id, int limit) {
  Flush();
  Runtime& r = impl_->R();
  std::vector<StoredEvent> stored;
  {
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    stored = r.store->ListEvents(since, until, after_id, limit);
  }
  std::vector<LoggedEvent> out;
  out.reserve(stored.size());
  for (const auto& e : stored)
    out.push_back({e.id, e.type, e.at_ms, LoggedEventFields(e.json, impl_->opts.currency)});
  return out;
}

void Engine::PauseFlow(const std::string& flow, const std::string& reason) {
  if (!impl_->FindFlow(flow)) throw InvalidArgument("flow", "no flow named '" + flow + "'");
  if (reason.size() > 500) throw InvalidArgument("reason", "is longer than 500 characters");
  Runtime& r = impl_->R();
  const Millis now = Now();
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  r.store->Write([&] {
    if (!r.store->FlowPauses().count(flow)) r.store->PauseFlow(flow, reason, now);
  });
}

void Engine::ResumeFlow(const std::string& flow) {
  Runtime& r = impl_->R();
  const Millis now = Now();
  bool resumed = false;
  {
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    // A flow this engine was not given may still be paused in the store (an operator's
    // engine, or a flow since removed): resuming it must be possible.
    if (!impl_->FindFlow(flow) && !r.store->FlowPauses().count(flow))
      throw InvalidArgument("flow", "no flow named '" + flow + "'");
    r.store->Write([&] { resumed = r.store->ResumeFlow(flow, now); });
  }
  if (resumed) impl_->WakeWorker(r);
}

std::map<std::string, FlowPause> Engine::FlowPauses() {
  Runtime& r = impl_->R();
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  return r.store->FlowPauses();
}

}  // namespace cartrecovery
