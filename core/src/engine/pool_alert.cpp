// R4.3: a step that needs a code from an empty pool pauses its flow, and the team hears of
// it once per dry spell (not once per waiting shopper): the first step that pauses on the
// pool schedules the alert; importing codes resumes the steps, and the next dry spell
// alerts again. The alert goes to the sales_alert channels.
#include "cartrecovery/render.h"
#include "cartrecovery/status.h"
#include "engine/deliveries.h"
#include "engine/engine_impl.h"
#include "model/json_writer.h"

namespace cartrecovery {
namespace {

const char kSubject[] = "Coupon pool {{pool}} is empty: reminders are paused";

const char kText[] =
    "The coupon pool \"{{pool}}\" at {{shop}} has no codes left, so reminders that need one "
    "are paused (nobody gets a message with an empty code):\n\n"
    "{{#flows}}- flow {{flow}}: {{messages}} reminder(s) waiting\n{{/flows}}\n"
    "Import codes (cartrecovery import-coupons, or engine.import_coupons) and they go out at "
    "once.\n";

const char kHtml[] =
    "<!doctype html><html><body style=\"font-family:sans-serif;max-width:600px\">"
    "<h2 style=\"font-size:18px\">Coupon pool &ldquo;{{pool}}&rdquo; is empty</h2>"
    "<p>Reminders at {{shop}} that need a code from it are paused; nobody gets a message "
    "with an empty code.</p><ul>{{#flows}}<li>flow <b>{{flow}}</b>: {{messages}} reminder(s) "
    "waiting</li>{{/flows}}</ul><p>Import codes and they go out at once.</p></body></html>";

std::string ReasonFor(const std::string& pool) { return "coupon_pool_empty:" + pool; }

}  // namespace

void Engine::Impl::SchedulePoolAlert(Store& store, const std::string& pool, Millis now) {
  if (opts.sales_alert.channels.empty()) return;
  for (const auto& [key, count] : store.PausedMessages())
    if (key.second == ReasonFor(pool) && count > 0) return;  // this dry spell is known
  store.ScheduleJob("pool_alert", pool + "@" + std::to_string(now), now);
}

void Engine::Impl::RunPoolAlertJob(Runtime& r, const JobRecord& job, Millis now) {
  SendTeamAlert(r, job, now, [&](Store& store) -> std::optional<TeamAlert> {
    const std::string pool = job.subject.substr(0, job.subject.rfind('@'));
    Value flows = Value::MakeList();
    std::vector<std::pair<std::string, int64_t>> waiting;
    for (const auto& [key, count] : store.PausedMessages()) {
      if (key.second != ReasonFor(pool)) continue;
      Value f = Value::MakeMap();
      f.Set("flow", Value::String(key.first));
      f.Set("messages", Value::Int(count));
      flows.as_list().push_back(std::move(f));
      waiting.emplace_back(key.first, count);
    }
    if (waiting.empty()) return std::nullopt;  // codes arrived before the alert went
    Value ctx = Value::MakeMap();
    ctx.Set("pool", Value::String(pool));
    ctx.Set("shop", Value::String(opts.shop.shop_name));
    ctx.Set("flows", flows);
    TeamAlert alert;
    alert.kind = "coupon_pool_empty";
    alert.subject = RenderMustache(kSubject, ctx, "pool alert subject");
    alert.text = RenderMustache(kText, ctx, "pool alert text");
    alert.html = RenderMustache(kHtml, ctx, "pool alert html");
    alert.data_json = [this, pool, waiting](const MessageRecord& m) {
      std::vector<std::string> paused;
      for (const auto& [flow, count] : waiting)
        paused.push_back(internal::JsonInlineObject(
            {{"flow", internal::JsonQuote(flow)}, {"messages", std::to_string(count)}}));
      std::string list = "[";
      for (size_t i = 0; i < paused.size(); ++i) list += (i ? ", " : "") + paused[i];
      return internal::JsonInlineObject({{"event", internal::JsonQuote("coupon_pool_empty")},
                                         {"message_id", internal::JsonQuote(m.message_id)},
                                         {"shop", internal::JsonQuote(opts.shop.shop_name)},
                                         {"pool", internal::JsonQuote(pool)},
                                         {"paused", list + "]"}});
    };
    return alert;
  });
}

}  // namespace cartrecovery
