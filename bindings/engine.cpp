// The Engine and ManualClock. Python values become core values before the GIL is
// released; records come back as dicts of plain values (times as UTC milliseconds, money as
// decimal text), which the Python package turns into datetimes and Decimals.
#include <pybind11/stl.h>

#include <fstream>

#include "bindings.h"
#include "py_callable.h"
#include "cartrecovery/clock.h"
#include "cartrecovery/engine.h"
#include "cartrecovery/policy.h"
#include "cartrecovery/status.h"

namespace cartrecovery {
namespace bindings {
namespace {

py::object OptMs(Millis ms) { return ms ? py::object(py::int_(ms)) : py::none(); }
py::object OptStr(const std::string& s) { return s.empty() ? py::none() : py::object(py::str(s)); }
py::object BranchOf(const std::optional<Engagement>& e) {
  return e ? py::object(py::str(EngagementName(*e))) : py::none();
}

py::dict ItemDict(const LineItem& it, int exp) {
  py::dict d;
  d["sku"] = it.sku;
  d["name"] = it.name;
  d["price"] = FormatMinorUnits(it.price_minor, exp);
  d["quantity"] = it.quantity;
  d["image_url"] = OptStr(it.image_url);
  d["url"] = OptStr(it.url);
  return d;
}

py::dict JourneyDict(const JourneyRecord& j, const Engine& engine) {
  py::dict d;
  d["journey_id"] = j.journey_id;
  d["flow"] = j.flow;
  d["path"] = j.path;
  d["state"] = JourneyStateName(j.state);
  d["end_reason"] = OptStr(j.end_reason);
  size_t total = 0;
  for (const auto& f : engine.flows())
    if (f.name == j.flow)
      if (const Path* p = f.FindPath(j.path)) total = p->steps.size();
  bool pending = j.state == JourneyState::kRunning && static_cast<size_t>(j.next_step) < total;
  d["next_step"] = pending ? py::object(py::int_(j.next_step + 1)) : py::none();
  d["next_due"] = pending ? py::object(py::int_(j.next_due_ms)) : py::none();
  d["branch"] = pending ? BranchOf(j.next_branch) : py::none();
  d["steps"] = total;
  d["started_at"] = j.started_ms;
  return d;
}

py::dict MessageDict(const MessageRecord& m) {
  py::dict d;
  d["message_id"] = m.message_id;
  d["cart_id"] = m.cart_id;
  d["journey_id"] = m.journey_id;
  d["flow"] = m.flow;
  d["path"] = m.path;
  d["step"] = m.step;
  d["branch"] = BranchOf(m.branch);
  d["channel"] = m.channel;
  d["status"] = MessageStatusName(m.status);
  d["reason"] = OptStr(m.reason);
  d["variant"] = OptStr(m.variant);
  d["due_at"] = OptMs(m.due_ms);
  d["sent_at"] = OptMs(m.sent_ms);
  d["opened_at"] = OptMs(m.opened_ms);
  d["clicked_at"] = OptMs(m.clicked_ms);
  d["to"] = OptStr(m.to);
  d["subject"] = OptStr(m.subject);
  d["text"] = OptStr(m.text);
  d["html"] = OptStr(m.html);
  d["attempts"] = m.attempts;
  return d;
}

std::vector<std::string> Strings(const py::handle& list) {
  std::vector<std::string> out;
  for (py::handle h : list) out.push_back(h.cast<std::string>());
  return out;
}

}  // namespace

void init_engine(py::module_& m) {
  py::class_<ManualClock, std::shared_ptr<ManualClock>>(m, "ManualClock")
      .def(py::init<Millis>(), py::arg("start_ms"))
      .def("now_ms", &ManualClock::NowMillis)
      .def(
          "set_ms",
          [](ManualClock& c, Millis t) {
            py::gil_scoped_release release;  // wakes the worker, which may want the GIL
            c.Set(t);
          },
          py::arg("ms"))
      .def(
          "advance_ms",
          [](ManualClock& c, Millis d) {
            py::gil_scoped_release release;
            c.Advance(d);
          },
          py::arg("ms"));

  py::class_<Engine>(m, "Engine")
      .def(py::init([](const std::string& store, const std::vector<std::string>& flows_json,
                       py::object channels, std::shared_ptr<ManualClock> clock,
                       const py::dict& settings) {
             EngineOptions o;
             o.store_url = store;
             for (const auto& text : flows_json) o.flows.push_back(ParseFlow(text));
             if (!channels.is_none()) {
               o.channels_given = true;
               for (auto kv : channels.cast<py::dict>())
                 o.channels[kv.first.cast<std::string>()] = kv.second.cast<std::shared_ptr<Channel>>();
             }
             o.clock = clock;
             auto str = [&](const char* k, std::string& out) {
               if (settings.contains(k) && !settings[k].is_none()) out = settings[k].cast<std::string>();
             };
             auto num = [&](const char* k, auto& out) {
               if (settings.contains(k) && !settings[k].is_none())
                 out = settings[k].cast<std::decay_t<decltype(out)>>();
             };
             str("shop_name", o.shop.shop_name);
             str("base_url", o.shop.base_url);
             str("contact_email", o.shop.contact_email);
             str("contact_phone", o.shop.contact_phone);
             str("chat_url", o.shop.chat_url);
             str("timezone", o.timezone);
             str("currency", o.currency);
             str("outbox_directory", o.outbox_directory);
             str("worker_id", o.worker_id);
             if (settings.contains("sales_alert") && !settings["sales_alert"].is_none()) {
               auto alert = settings["sales_alert"].cast<py::dict>();
               for (auto kv : alert) {
                 std::string k = kv.first.cast<std::string>();
                 // min_value: one amount in the shop's currency, or {currency: amount};
                 // rates: {currency: worth of one unit in the shop's currency}.
                 auto amounts = [&](py::handle h) {
                   std::map<std::string, std::string> out;
                   for (auto a : h.cast<py::dict>())
                     out[a.first.cast<std::string>()] = py::str(a.second).cast<std::string>();
                   return out;
                 };
                 if (k == "min_value" && py::isinstance<py::dict>(kv.second))
                   o.sales_alert.min_values = amounts(kv.second);
                 else if (k == "min_value") o.sales_alert.min_value = py::str(kv.second);
                 else if (k == "rates") o.sales_alert.rates = amounts(kv.second);
                 else if (k == "to") o.sales_alert.to = kv.second.cast<std::string>();
                 else if (k == "channels") o.sales_alert.channels = kv.second.cast<std::vector<std::string>>();
                 else throw ConfigError("settings.sales_alert." + k, "unknown key (min_value, rates, channels, to)");
               }
             }
             if (settings.contains("secrets") && !settings["secrets"].is_none())
               o.secrets = settings["secrets"].cast<std::vector<std::string>>();
             if (settings.contains("policies_json") && !settings["policies_json"].is_none())
               o.policies = ParsePolicies(settings["policies_json"].cast<std::string>());
             str("templates", o.templates_directory);
             str("default_language", o.shop.default_language);
             str("unsubscribe_mailto", o.unsubscribe_mailto);
             num("link_ttl_ms", o.link_ttl_ms);
             if (settings.contains("coupon_pools") && !settings["coupon_pools"].is_none()) {
               size_t i = 0;
               for (auto pool : settings["coupon_pools"].cast<py::list>())
                 o.coupon_pools.push_back(
                     PoolFromDict(pool.cast<py::dict>(), "coupon_pools[" + std::to_string(i++) + "]"));
             }
             if (settings.contains("exit_intent") && !settings["exit_intent"].is_none())
               o.exit_intent = ExitPolicyFromDict(settings["exit_intent"].cast<py::dict>(),
                                                  &o.exit_intent_pool, o.currency);
             if (settings.contains("incentive") && !settings["incentive"].is_none()) {
               if (settings.contains("exit_intent") && !settings["exit_intent"].is_none() &&
                   settings["exit_intent"].cast<py::dict>().contains("incentive"))
                 throw ConfigError("incentive", "one budget: give it as settings.incentive or "
                                                "exit_intent.incentive, not both");
               // True: R4.4 with the defaults; False: no budget at all; a dict: the budget.
               py::handle inc = settings["incentive"];
               if (py::isinstance<py::bool_>(inc)) {
                 if (inc.cast<bool>()) o.incentive = IncentivePolicy{};
                 else o.ration_incentives = false;
               } else {
                 o.incentive = IncentiveFromDict(inc.cast<py::dict>(), "incentive", o.currency);
               }
             }
             num("queue_capacity", o.queue_capacity);
             num("max_events_per_cart", o.max_events_per_cart);
             num("max_batch", o.max_batch);
             num("lease_ms", o.lease_ms);
             num("max_attempts", o.retry.max_attempts);
             num("retry_base_ms", o.retry.base_ms);
             num("attribution_window_ms", o.attribution_window_ms);
             num("worker_idle_ms", o.worker_idle_ms);
             num("retention_events_ms", o.retention.events_ms);
             num("retention_bodies_ms", o.retention.bodies_ms);
             num("retention_carts_ms", o.retention.carts_ms);
             num("retention_offers_ms", o.retention.offers_ms);
             num("retention_reports_ms", o.retention.reports_ms);
             num("retention_batch", o.retention.batch);
             num("render_threads", o.render_threads);
             py::gil_scoped_release release;  // opening the store is I/O
             return std::make_unique<Engine>(std::move(o));
           }),
           py::arg("store"), py::arg("flows"), py::arg("channels").none(true),
           py::arg("clock").none(true), py::arg("settings"))
      .def(
          "track",
          [](Engine& e, const std::string& type, const py::dict& fields, std::optional<Millis> at,
             bool durable) {
            // Validating and queueing take microseconds and never block: keep the GIL
            // (releasing and re-taking it costs more under contention than the work).
            // Only a wait for a commit (orders, unsubscribes, durable=True) releases it.
            int64_t ticket = e.Accept(type, ToValue(fields, ""), at, durable);
            if (ticket) {
              py::gil_scoped_release release;
              e.Await(ticket);
            }
          },
          py::arg("type"), py::arg("fields"), py::arg("at_ms") = py::none(),
          py::arg("durable") = false)
      .def(
          "track_many",
          [](Engine& e, const py::list& events, bool durable) {
            std::vector<std::pair<std::string, Value>> items;
            std::vector<std::optional<Millis>> at;
            items.reserve(events.size());
            size_t i = 0;
            for (py::handle ev : events) {
              std::string prefix = "[" + std::to_string(i++) + "]";
              auto t = ev.cast<py::tuple>();
              Value v = ToValue(t[1], prefix);
              items.emplace_back(Utf8(py::object(t[0]), prefix + ".type"), std::move(v));
              at.push_back(t[2].is_none() ? std::nullopt : std::optional<Millis>(t[2].cast<Millis>()));
            }
            py::gil_scoped_release release;
            return e.TrackMany(items, at, durable);
          },
          py::arg("events"), py::arg("durable") = false)
      .def(
          "prune",
          [](Engine& e, std::optional<Millis> now) {
            PruneCounts c;
            {
              py::gil_scoped_release release;
              c = e.Prune(now);
            }
            py::dict d;
            d["events"] = c.events;
            d["bodies"] = c.bodies;
            d["messages"] = c.messages;
            d["orders"] = c.orders;
            d["journeys"] = c.journeys;
            d["carts"] = c.carts;
            d["contacts"] = c.contacts;
            d["visitors"] = c.visitors;
            d["offers"] = c.offers;
            return d;
          },
          py::arg("now_ms") = py::none())
      .def("export_person", &Engine::Export, py::arg("email"), py::arg("phone"),
           py::call_guard<py::gil_scoped_release>())
      .def("forget", &Engine::Forget, py::arg("email"), py::arg("phone"),
           py::call_guard<py::gil_scoped_release>())
      .def("flush", &Engine::Flush, py::call_guard<py::gil_scoped_release>())
      .def("close", &Engine::Close, py::call_guard<py::gil_scoped_release>())
      .def("run_due", &Engine::RunDue, py::arg("now_ms") = py::none(),
           py::call_guard<py::gil_scoped_release>())
      .def("start", &Engine::Start, py::call_guard<py::gil_scoped_release>())
      .def("stop", &Engine::Stop, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("running", &Engine::Running)
      .def("now_ms", &Engine::Now)
      .def_property_readonly("worker_id", &Engine::worker_id)
      .def("flow_names",
           [](const Engine& e) {
             std::vector<std::string> names;
             for (const auto& f : e.flows()) names.push_back(f.name);
             return names;
           })
      .def(
          "handle_link",
          [](Engine& e, const std::string& path, const std::string& method) {
            LinkResponse r;
            {
              py::gil_scoped_release release;
              r = e.HandleLink(path, method);
            }
            py::dict d;
            d["status"] = r.status;
            d["content_type"] = r.content_type;
            d["body"] = py::bytes(r.body);
            py::dict headers;
            for (const auto& h : r.headers) headers[py::str(h.first)] = h.second;
            d["headers"] = headers;
            d["kind"] = OptStr(r.kind);
            d["cart_id"] = r.cart ? py::object(py::str(r.cart->cart.cart_id)) : py::none();
            return d;
          },
          py::arg("path"), py::arg("method") = "GET")
      .def(
          "set_order_check",
          [](Engine& e, py::object fn) {
            if (fn.is_none()) {
              e.SetOrderCheck(nullptr);
              return;
            }
            // The callable is shared with the worker thread: a PyCallable, called with the GIL.
            e.SetOrderCheck([holder = PyCallable(fn)](const std::string& cart_id, const std::string& email) {
              py::gil_scoped_acquire gil;  // held through the error's handling too
              try {
                return holder.Call<bool>(cart_id, email.empty() ? std::optional<std::string>()
                                                                : std::optional<std::string>(email));
              } catch (py::error_already_set& err) {
                throw Error(ErrorCode::kInternal, std::string("order check: ") + err.what());
              }
            });
          },
          py::arg("fn"))
      .def(
          "exit_intent",
          [](Engine& e, const std::string& visitor_id, const std::string& cart_id) {
            ExitIntentResult r;
            {
              py::gil_scoped_release release;
              r = e.ExitIntent(visitor_id, cart_id);
            }
            py::dict d;
            d["show"] = r.decision.show;
            d["kind"] = r.decision.kind;
            d["variant"] = OptStr(r.decision.variant);
            d["reason"] = OptStr(r.decision.reason);
            d["incentive_rule"] = OptStr(r.decision.incentive_rule);
            d["coupon"] = r.decision.show ? CouponDict(r.coupon) : py::none();
            d["repeated"] = r.repeated;
            return d;
          },
          py::arg("visitor_id"), py::arg("cart_id") = "")
      .def(
          "save_coupon_pool",
          [](Engine& e, const py::dict& pool) {
            CouponPool p = PoolFromDict(pool, "pool");
            py::gil_scoped_release release;
            e.SaveCouponPool(p);
          },
          py::arg("pool"))
      .def(
          "import_coupons",
          [](Engine& e, const std::string& pool, const std::string& path, const std::string& column,
             int column_index, bool has_header, py::object on_progress) {
            std::ifstream in(path, std::ios::binary);
            if (!in) throw InvalidArgument("path", "cannot open '" + path + "'");
            CsvImportOptions opts;
            opts.column_name = column;
            opts.column_index = column_index;
            opts.has_header = has_header;
            if (!on_progress.is_none()) {
              opts.progress_every_bytes = 64 * 1024;
              // The options are copied with the GIL released: the callback is a PyCallable.
              opts.on_progress = [fn = PyCallable(on_progress)](uint64_t bytes) { fn.Call(bytes); };
            }
            CouponImportReport r;
            {
              py::gil_scoped_release release;
              r = e.ImportCoupons(pool, in, opts);
            }
            py::dict d;
            d["imported"] = r.imported;
            d["already_known"] = r.already_known;
            d["duplicates_in_file"] = r.duplicates_in_file;
            d["bad_row_count"] = r.bad_row_count;
            py::list bad;
            for (const auto& b : r.bad_rows)
              bad.append(py::make_tuple(b.line, b.reason, b.detail));
            d["bad_rows"] = bad;
            return d;
          },
          py::arg("pool"), py::arg("path"), py::arg("column") = "", py::arg("column_index") = 0,
          py::arg("has_header") = true, py::arg("on_progress") = py::none())
      .def(
          "funnel",
          [](Engine& e, Millis since, Millis until) {
            std::vector<FunnelRow> rows;
            {
              py::gil_scoped_release release;
              rows = e.Funnel(since, until);
            }
            py::list out;
            for (const auto& f : rows) {
              py::dict d;
              d["stage"] = f.stage;
              d["carts"] = f.carts;
              d["abandoned"] = f.abandoned;
              d["recovered"] = f.recovered;
              out.append(d);
            }
            return out;
          },
          py::arg("since_ms"), py::arg("until_ms"))
      .def(
          "leads",
          [](Engine& e, Millis since, Millis until) {
            LeadCounts l;
            {
              py::gil_scoped_release release;
              l = e.Leads(since, until);
            }
            py::dict d;
            d["cold"] = l.cold;
            d["warm"] = l.warm;
            d["hot"] = l.hot;
            return d;
          },
          py::arg("since_ms"), py::arg("until_ms"))
      .def(
          "experiment_report",
          [](Engine& e, const std::string& name, std::optional<Millis> since,
             std::optional<Millis> until) {
            std::vector<VariantResult> rows;
            {
              py::gil_scoped_release release;
              rows = e.ExperimentReport(name, since, until);
            }
            py::list out;
            for (const auto& v : rows) {
              py::dict d;
              d["variant"] = v.variant;
              d["trials"] = v.trials;
              d["conversions"] = v.conversions;
              d["rate"] = v.rate;
              d["ci"] = py::make_tuple(v.ci.low, v.ci.high);
              if (v.vs_holdout) {
                py::dict diff;
                diff["difference"] = v.vs_holdout->difference;
                diff["ci"] = py::make_tuple(v.vs_holdout->ci.low, v.vs_holdout->ci.high);
                d["vs_holdout"] = diff;
              } else {
                d["vs_holdout"] = py::none();
              }
              out.append(d);
            }
            return out;
          },
          py::arg("name") = "coupon", py::arg("since_ms") = py::none(),
          py::arg("until_ms") = py::none())
      .def("experiments",
           [](const Engine& e) {
             py::list out;
             for (const auto& x : e.Experiments()) {
               py::dict d;
               d["name"] = x.name;
               d["kind"] = x.kind;
               d["flow"] = OptStr(x.flow);
               d["path"] = OptStr(x.path);
               d["step"] = x.step ? py::object(py::int_(x.step)) : py::none();
               out.append(d);
             }
             return out;
           })
      .def(
          "events",
          [](Engine& e, Millis since, Millis until, int64_t after_id, int limit) {
            std::vector<LoggedEvent> rows;
            {
              py::gil_scoped_release release;
              rows = e.Events(since, until, after_id, limit);
            }
            py::list out;
            for (const auto& ev : rows) out.append(py::make_tuple(ev.id, ev.type, ev.at_ms, ev.fields_json));
            return out;
          },
          py::arg("since_ms"), py::arg("until_ms"), py::arg("after_id"), py::arg("limit"))
      .def("pause_flow", &Engine::PauseFlow, py::arg("flow"), py::arg("reason"),
           py::call_guard<py::gil_scoped_release>())
      .def("resume_flow", &Engine::ResumeFlow, py::arg("flow"),
           py::call_guard<py::gil_scoped_release>())
      .def("flow_pauses",
           [](Engine& e) {
             std::map<std::string, FlowPause> pauses;
             {
               py::gil_scoped_release release;
               pauses = e.FlowPauses();
             }
             py::dict out;
             for (const auto& [flow, p] : pauses) out[py::str(flow)] = py::make_tuple(p.reason, p.paused_ms);
             return out;
           })
      .def("paused_steps",
           [](Engine& e) {
             std::map<std::pair<std::string, std::string>, int64_t> paused;
             {
               py::gil_scoped_release release;
               paused = e.PausedSteps();
             }
             py::list out;
             for (const auto& kv : paused)
               out.append(py::make_tuple(kv.first.first, kv.first.second, kv.second));
             return out;
           })
      .def("free_coupons", &Engine::FreeCoupons, py::arg("pool"),
           py::call_guard<py::gil_scoped_release>())
      .def(
          "validate_coupon",
          [](Engine& e, const std::string& code, const std::string& email) {
            CouponCheck c;
            {
              py::gil_scoped_release release;
              c = e.ValidateCoupon(code, email);
            }
            py::dict d;
            d["valid"] = c.problem == CouponProblem::kNone;
            d["problem"] = c.problem == CouponProblem::kNone ? py::object(py::none())
                                                              : py::object(py::str(CouponProblemName(c.problem)));
            d["coupon"] = CouponDict(c.coupon);
            return d;
          },
          py::arg("code"), py::arg("email") = "")
      .def(
          "redeem_coupon",
          [](Engine& e, const std::string& code, const std::string& order_id, const std::string& email) {
            CouponCheck c;
            {
              py::gil_scoped_release release;
              c = e.RedeemCoupon(code, order_id, email);
            }
            py::dict d;
            d["redeemed"] = c.problem == CouponProblem::kNone;
            d["problem"] = c.problem == CouponProblem::kNone ? py::object(py::none())
                                                              : py::object(py::str(CouponProblemName(c.problem)));
            d["coupon"] = CouponDict(c.coupon);
            return d;
          },
          py::arg("code"), py::arg("order_id"), py::arg("email") = "")
      .def("send_test", &Engine::SendTest, py::arg("channel"), py::arg("to"),
           py::arg("template") = "", py::arg("language") = "",
           py::call_guard<py::gil_scoped_release>())
      .def("cart",
           [](Engine& e, const std::string& cart_id) -> py::object {
             std::optional<CartView> view;
             {
               py::gil_scoped_release release;
               view = e.GetCart(cart_id);
             }
             if (!view) return py::none();
             const Cart& c = view->cart;
             int exp = CurrencyExponent(c.currency.empty() ? "EUR" : c.currency);
             py::dict d;
             d["cart_id"] = c.cart_id;
             d["state"] = CartStateName(c.state);
             d["stage"] = StageName(c.stage);
             d["value"] = FormatMinorUnits(c.ValueMinor(), exp);
             d["currency"] = OptStr(c.currency);
             py::list items;
             for (const auto& it : c.items) items.append(ItemDict(it, exp));
             d["items"] = items;
             d["visitor_id"] = OptStr(c.visitor_id);
             d["contact"] = OptStr(c.contact_key);
             d["restore_url"] = OptStr(c.restore_url);
             d["last_activity"] = c.last_activity_ms;
             d["journey"] = view->journey ? py::object(JourneyDict(*view->journey, e)) : py::none();
             return d;
           },
           py::arg("cart_id"))
      .def(
          "messages",
          [](Engine& e, const std::string& cart_id, const std::string& email, int limit) {
            std::vector<MessageRecord> rows;
            {
              py::gil_scoped_release release;
              rows = e.Messages(cart_id, email, limit);
            }
            py::list out;
            for (const auto& m : rows) out.append(MessageDict(m));
            return out;
          },
          py::arg("cart_id") = "", py::arg("email") = "", py::arg("limit") = 1000)
      .def(
          "report",
          [](Engine& e, std::optional<Millis> since, std::optional<Millis> until, const py::object& by,
             const std::map<std::string, std::string>& where) {
            ReportQuery q;
            q.since = since;
            q.until = until;
            q.by = Strings(by);
            q.where = where;
            std::vector<ReportRow> rows;
            {
              py::gil_scoped_release release;
              rows = e.Report(q);
            }
            py::list out;
            for (const auto& r : rows) {
              py::dict d;
              for (const auto& kv : r.keys) {
                if (kv.first == "step") d["step"] = py::int_(std::stoi(kv.second));
                else d[py::str(kv.first)] = kv.second;
              }
              d["sent"] = r.sent;
              d["delivered"] = r.sent - r.bounced;
              d["bounced"] = r.bounced;
              d["failed"] = r.failed;
              d["suppressed"] = r.suppressed;
              d["opened"] = r.opened;
              d["clicked"] = r.clicked;
              d["unsubscribed"] = r.unsubscribed;
              d["orders"] = r.orders;
              d["orders_with_coupon"] = r.orders_with_coupon;
              int exp = CurrencyExponent(r.currency.empty() || r.currency == "MIXED" ? "EUR" : r.currency);
              d["revenue"] = FormatMinorUnits(r.revenue_minor, exp);
              d["currency"] = OptStr(r.currency);
              out.append(d);
            }
            return out;
          },
          py::arg("since_ms") = py::none(), py::arg("until_ms") = py::none(),
          py::arg("by") = py::make_tuple("flow", "step", "channel"),
          py::arg("where") = std::map<std::string, std::string>())
      .def("status", [](Engine& e) {
        EngineStatus st;
        {
          py::gil_scoped_release release;
          st = e.Status();
        }
        py::dict d;
        d["now"] = st.now_ms;
        d["worker_last_run"] = st.store.worker_last_run_ms ? py::object(py::int_(*st.store.worker_last_run_ms)) : py::none();
        d["worker_last_id"] = OptStr(st.store.worker_last_id);
        d["worker_running_here"] = st.worker_running;
        d["jobs_due"] = st.store.jobs_due;
        d["jobs_pending"] = st.store.jobs_pending;
        d["oldest_due"] = st.store.oldest_due_ms ? py::object(py::int_(*st.store.oldest_due_ms)) : py::none();
        d["next_due"] = st.store.next_due_ms ? py::object(py::int_(*st.store.next_due_ms)) : py::none();
        d["events"] = st.store.events;
        d["carts"] = st.store.carts;
        d["running_journeys"] = st.store.running_journeys;
        d["messages_sent"] = st.store.messages_sent;
        d["messages_failed"] = st.store.messages_failed;
        d["events_refused"] = st.store.events_refused;
        d["queued"] = st.queued;
        d["last_error"] = OptStr(st.last_error);
        d["schema_version"] = st.store.schema_version;
        return d;
      });
}

}  // namespace bindings
}  // namespace cartrecovery
