// Alerts to the shop's team, on the sales_alert channels (e-mail to sales_alert.to, or a
// webhook). Sales alerts (R3.10): when a cart worth at least the threshold is abandoned, the
// team gets the cart (products, images, the shopper's name and contact details) at once.
// Coupon alerts (R4.3): when a step pauses because its pool ran dry (pool_alert.cpp).
// An alert is a job of its own ("alert", "<cart>@<last activity>"; "pool_alert",
// "<pool>@<time it ran dry>"), so it is sent exactly once, retried like any message, and
// visible in messages().
#include <cassert>

#include "cartrecovery/status.h"
#include "engine/deliveries.h"
#include "engine/engine_impl.h"
#include "render/render_internal.h"

namespace cartrecovery {
namespace {

// A subject is one header line: line breaks a shopper typed into their name become spaces.
std::string OneLine(std::string s) {
  for (char& c : s)
    if (c == '\r' || c == '\n') c = ' ';
  return s;
}

const char kSampleCouponCode[] = "SAMPLE-CODE";

const char kSubject[] = "Abandoned cart: {{value}} {{currency}}{{#who}} - {{who}}{{/who}}";

const char kText[] =
    "A cart worth {{value}} {{currency}} was just abandoned at {{shop}}.\n\n"
    "{{#items}}- {{quantity}} x {{name}} ({{price}} {{currency}})\n{{/items}}\n"
    "Shopper: {{#who}}{{who}}{{/who}}{{^who}}(no name){{/who}}\n"
    "{{#email}}E-mail: {{email}}\n{{/email}}{{#phone}}Phone: {{phone}}\n{{/phone}}"
    "Checkout stage: {{stage}}\n"
    "Cart {{cart_id}}: {{cart_url}}\n";

const char kHtml[] =
    "<!doctype html><html><body style=\"font-family:sans-serif;max-width:600px\">"
    "<h2 style=\"font-size:18px\">A cart worth {{value}} {{currency}} was just abandoned</h2>"
    "<table style=\"border-collapse:collapse;width:100%\">{{#items}}<tr>"
    "<td style=\"padding:4px\">{{#image_url}}<img src=\"{{image_url}}\" alt=\"{{name}}\" "
    "width=\"64\">{{/image_url}}</td><td style=\"padding:4px\">{{quantity}} x {{name}}</td>"
    "<td style=\"padding:4px;text-align:right\">{{price}} {{currency}}</td></tr>{{/items}}</table>"
    "<p>Shopper: <b>{{#who}}{{who}}{{/who}}{{^who}}(no name){{/who}}</b><br>"
    "{{#email}}E-mail: <a href=\"mailto:{{email}}\">{{email}}</a><br>{{/email}}"
    "{{#phone}}Phone: <a href=\"tel:{{phone}}\">{{phone}}</a><br>{{/phone}}"
    "Checkout stage: {{stage}}</p><p><a href=\"{{cart_url}}\">Open the cart</a></p>"
    "</body></html>";

Value AlertContext(const ShopInfo& shop, const Cart& cart, const Contact& contact,
                   const std::string& cart_url) {
  const int exp = CurrencyExponent(cart.currency);
  Value ctx = Value::MakeMap();
  ctx.Set("shop", Value::String(shop.shop_name));
  ctx.Set("value", Value::String(FormatMinorUnits(cart.ValueMinor(), exp)));
  ctx.Set("currency", Value::String(cart.currency));
  // The team is the shop itself: the name the shopper typed helps them call back.
  ctx.Set("who", Value::String(contact.first_name));
  ctx.Set("email", Value::String(contact.email));
  ctx.Set("phone", Value::String(contact.phone));
  ctx.Set("stage", Value::String(StageName(cart.stage)));
  ctx.Set("cart_url", Value::String(cart_url));
  ctx.Set("cart_id", Value::String(cart.cart_id));
  Value items = Value::MakeList();
  for (const auto& it : cart.items) {
    Value i = Value::MakeMap();
    i.Set("name", Value::String(it.name.empty() ? it.sku : it.name));
    i.Set("quantity", Value::Int(it.quantity));
    i.Set("price", Value::String(FormatMinorUnits(it.price_minor, exp)));
    i.Set("image_url", Value::String(it.image_url));
    items.as_list().push_back(std::move(i));
  }
  ctx.Set("items", items);
  return ctx;
}

}  // namespace

ValueThreshold Engine::Impl::SalesAlertThreshold() const {
  ValueThreshold t;
  t.currency = opts.currency;
  t.min_value = opts.sales_alert.min_value;
  t.per_currency = opts.sales_alert.min_values;
  t.rates = opts.sales_alert.rates;
  return t;
}

bool Engine::Impl::WantsSalesAlert(const Cart& cart) const {
  if (opts.sales_alert.channels.empty()) return false;
  return MeetsValueThreshold(SalesAlertThreshold(), cart.ValueMinor(), cart.currency);
}

void Engine::Impl::RunAlertJob(Runtime& r, const JobRecord& job, Millis now) {
  SendTeamAlert(r, job, now, [&](Store& store) -> std::optional<TeamAlert> {
    std::string cart_id = job.subject.substr(0, job.subject.rfind('@'));
    auto cart = store.LoadCart(cart_id);
    if (!cart) return std::nullopt;
    Contact contact = store.LoadContact(cart->contact_key).value_or(Contact{});
    contact.key = cart->contact_key;
    // The alert's link opens this cart: the shop's own link to it, else a signed restore
    // link (the same the reminders carry), else the shop (no secrets to sign with).
    MessageRecord alert_message;
    alert_message.message_id = DerivedId("a_", job.subject);
    alert_message.channel = "alert";
    std::string cart_url = LinksFor(alert_message, *cart, now).cart_url;
    Value ctx = AlertContext(opts.shop, *cart, contact, cart_url);
    TeamAlert alert;
    alert.kind = "sales_alert";
    alert.cart_id = cart->cart_id;
    alert.contact_key = contact.key;
    // S10: what the shopper typed reaches the team as typed; only the HTML part escapes.
    alert.subject = OneLine(render_internal::RenderMustache(kSubject, ctx, "sales_alert subject",
                                                            render_internal::Escape::kNone));
    alert.text = render_internal::RenderMustache(kText, ctx, "sales_alert text",
                                                 render_internal::Escape::kNone);
    alert.html = RenderMustache(kHtml, ctx, "sales_alert html");
    alert.data_json = [this, cart = *cart, contact, cart_url](const MessageRecord& m) {
      return internal::CartPayloadJson("sales_alert", opts.shop, cart, contact, m, cart_url);
    };
    return alert;
  });
}

void Engine::Impl::SendTeamAlert(Runtime& r, const JobRecord& job, Millis now,
                                 const std::function<std::optional<TeamAlert>(Store&)>& compose) {
  std::lock_guard<std::mutex> send_lock(r.send_mu);
  std::vector<internal::PendingSend> sends;
  bool prepared = false;
  {
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    Store& store = *r.store;
    store.Write([&] {
      if (!store.ClaimIsCurrent(job.job_id, job.attempt)) return;
      std::optional<TeamAlert> alert = compose(store);
      if (!alert) {
        store.FinishJob(job.job_id, job.attempt);
        return;
      }
      for (const auto& ch : opts.sales_alert.channels) {
        MessageRecord m;
        m.message_id = DerivedId("a_", job.subject + "\n" + ch);
        auto existing = store.LoadMessage(m.message_id);
        if (existing && existing->status != MessageStatus::kRetrying &&
            existing->status != MessageStatus::kSending) continue;
        if (existing) m = *existing;
        m.journey_id = "alert:" + job.subject;
        m.cart_id = alert->cart_id;
        m.contact_key = alert->contact_key;
        m.flow = alert->kind;
        m.step = 0;
        m.channel = ch;
        m.due_ms = existing ? existing->due_ms : job.due_ms;
        m.created_ms = existing ? existing->created_ms : now;
        m.to = ch == "email" ? opts.sales_alert.to : "";
        m.subject = alert->subject;
        m.text = alert->text;
        m.html = ch == "email" ? alert->html : "";
        assert(existing ? CanMove(existing->status, MessageStatus::kSending)
                        : CanStartAs(MessageStatus::kSending));
        m.status = MessageStatus::kSending;
        if (existing) store.UpdateMessage(m);
        else store.InsertMessage(m);
        internal::PendingSend ps;
        ps.message = m;
        ps.channel = ChannelFor(ch);
        ps.outgoing.message_id = m.message_id;
        ps.outgoing.channel = ch;
        ps.outgoing.to = m.to;
        ps.outgoing.subject = m.subject;
        ps.outgoing.text = m.text;
        ps.outgoing.html = m.html;
        ps.outgoing.date_ms = now;
        if (ch != "email") {
          ps.outgoing.data_json = alert->data_json(m);
          ps.outgoing.headers.emplace_back("X-CartRecovery-Event", alert->kind);
        }
        sends.push_back(std::move(ps));
      }
      prepared = true;
    });
  }
  if (!prepared) return;
  std::vector<internal::SendResult> results = internal::Deliver(r.store_mu, *r.store, sends);
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  Store& store = *r.store;
  store.Write([&] {
    // The alert is not a message to the shopper: it must not count against their caps.
    internal::Recorded rec = internal::RecordResults(store, opts.retry, "", results, now);
    if (rec.retry_at) store.RetryJob(job.job_id, job.attempt, *rec.retry_at);
    else store.FinishJob(job.job_id, job.attempt);
  });
}

void Engine::SendTest(const std::string& channel_name, const std::string& to,
                      const std::string& template_name, const std::string& language) {
  const auto& opts = impl_->opts;
  Channel* channel = impl_->ChannelFor(channel_name);
  if (!channel) throw ConfigError("channel", "channel '" + channel_name + "' is not configured");
  Millis now = impl_->clock->NowMillis();
  Cart cart;
  cart.cart_id = "test";
  cart.currency = opts.currency;
  LineItem a;
  a.sku = "SAMPLE-1";
  a.name = "Sample product";
  a.price_minor = 2490;
  a.quantity = 2;
  LineItem b;
  b.sku = "SAMPLE-2";
  b.name = "Another sample";
  b.price_minor = 990;
  b.quantity = 1;
  cart.items = {a, b};
  cart.last_activity_ms = now;
  Contact contact;
  contact.key = "test";
  contact.first_name = "Test";
  contact.consent.personalization = true;
  contact.language = language;
  RenderRequest req;
  req.shop = opts.shop;
  req.cart = cart;
  req.contact = contact;
  req.flow = "test";
  req.path = "visitor";
  req.step = 1;
  req.channel = channel_name;
  req.template_name = template_name.empty() ? "visitor_1" : template_name;
  req.templates = &impl_->templates;
  req.language = language;
  req.cart_url = opts.shop.base_url;
  // R6.2: the test shows where a code goes without handing out (or using up) a real one.
  req.coupon_code = kSampleCouponCode;
  RenderedMessage rendered = Render(req);
  OutgoingMessage out;
  out.message_id = DerivedId("test_", std::to_string(now) + "\n" + channel_name + "\n" + to);
  out.channel = channel_name;
  out.to = to;
  out.subject = "[TEST] " + rendered.subject;
  out.text = rendered.text;
  out.html = rendered.html;
  out.date_ms = now;
  Runtime& r = impl_->R();
  std::lock_guard<std::mutex> send_lock(r.send_mu);  // channels are not thread-safe
  try {
    channel->Send(out);
  } catch (...) {
    channel->Close();
    throw;
  }
  channel->Close();
}

}  // namespace cartrecovery
