// Signed links in messages, and the answers to them (track.h holds the token format).
//   open pixel    counts an open (S2 engagement), always answers the GIF
//   click         counts a click, redirects only to the URL inside the signed token
//   restore       the cart, for the adapter to rebuild in a guest session; never a login
//   unsubscribe   GET shows a form, POST (RFC 8058 one-click) unsubscribes
#include "cartrecovery/status.h"
#include "cartrecovery/track.h"
#include "engine/engine_impl.h"

namespace cartrecovery {
namespace {

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

LinkResponse Page(int status, const std::string& shop, const std::string& title,
                  const std::string& inner) {
  LinkResponse r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
           "content=\"width=device-width,initial-scale=1\"><title>" + HtmlEscape(title) +
           "</title></head><body style=\"font-family:sans-serif;max-width:32em;margin:2em auto;"
           "padding:0 1em\"><h1 style=\"font-size:1.4em\">" + HtmlEscape(title) + "</h1>" +
           inner + "<p style=\"color:#666\">" + HtmlEscape(shop) + "</p></body></html>";
  return r;
}

}  // namespace

Engine::Impl::MessageLinks Engine::Impl::LinksFor(const MessageRecord& m, const Cart& cart,
                                                  Millis now) const {
  MessageLinks links;
  links.cart_url = !cart.restore_url.empty() ? cart.restore_url : opts.shop.base_url;
  if (opts.secrets.empty()) return links;
  LinkClaims restore;
  restore.kind = LinkKind::kRestore;
  restore.message_id = m.message_id;
  restore.cart_id = cart.cart_id;
  restore.expires_ms = now + opts.link_ttl_ms;
  links.cart_url = LinkUrl(opts.shop.base_url, LinkKind::kRestore, SignLink(opts.secrets, restore));
  LinkClaims unsub;
  unsub.kind = LinkKind::kUnsubscribe;
  unsub.message_id = m.message_id;  // the contact is found through the message, not named
  unsub.expires_ms = now + opts.unsubscribe_ttl_ms;
  links.unsubscribe_url =
      LinkUrl(opts.shop.base_url, LinkKind::kUnsubscribe, SignLink(opts.secrets, unsub));
  if (m.channel == "email") {
    LinkClaims open;
    open.kind = LinkKind::kOpen;
    open.message_id = m.message_id;
    open.expires_ms = now + opts.link_ttl_ms;
    links.open_pixel_url = LinkUrl(opts.shop.base_url, LinkKind::kOpen, SignLink(opts.secrets, open));
  }
  return links;
}

Engine::Impl::StepContent Engine::Impl::RenderStep(RenderRequest req, const MessageRecord& m,
                                                   Millis now) const {
  StepContent content;
  content.links = LinksFor(m, req.cart, now);
  const MessageLinks& links = content.links;
  req.cart_url = links.cart_url;
  req.unsubscribe_url = links.unsubscribe_url;
  req.open_pixel_url = links.open_pixel_url;
  content.rendered = Render(req);
  RenderedMessage& rendered = content.rendered;
  // A browser notification needs a title (push.h: "title" is the subject); the renderer
  // writes subjects for e-mail only.
  if (m.channel == "push" && rendered.subject.empty()) rendered.subject = opts.shop.shop_name;
  if (opts.secrets.empty() || rendered.html.empty()) return content;
  rendered.html = WrapLinks(rendered.html, [&](const std::string& url) {
    // Our own links are already signed (and counted where they land).
    if (url == links.cart_url || url == links.unsubscribe_url || url == links.open_pixel_url ||
        (url.rfind(opts.shop.base_url, 0) == 0 && !opts.shop.base_url.empty()))
      return url;
    LinkClaims click;
    click.kind = LinkKind::kClick;
    click.message_id = m.message_id;
    click.cart_id = m.cart_id;
    click.url = url;
    click.expires_ms = now + opts.link_ttl_ms;
    return LinkUrl(opts.shop.base_url, LinkKind::kClick, SignLink(opts.secrets, click));
  });
  return content;
}

void Engine::Impl::AddUnsubscribeHeaders(const MessageLinks& links, const MessageRecord& m,
                                         OutgoingMessage& out) const {
  if (opts.secrets.empty()) return;
  if (m.channel == "email" && !links.unsubscribe_url.empty()) {
    for (auto& h : UnsubscribeHeaders(links.unsubscribe_url, opts.unsubscribe_mailto))
      out.headers.push_back(std::move(h));
  }
}

LinkResponse Engine::HandleLink(const std::string& path, const std::string& method) {
  const auto& opts = impl_->opts;
  auto parsed = ParseLinkPath(path);
  LinkResponse none;
  none.body = "not found";
  if (!parsed || opts.secrets.empty()) return none;
  Millis now = impl_->clock->NowMillis();
  LinkCheck check = CheckLink(opts.secrets, parsed->token, parsed->kind, now);
  const std::string& shop = opts.shop.shop_name;
  auto refused = [&](const std::string& what) {
    bool expired = check.problem == LinkProblem::kExpired;
    LinkResponse r = Page(expired ? 410 : 400, shop,
                          expired ? "This link has expired" : "This link is not valid",
                          "<p>" + HtmlEscape(what) + "</p>");
    r.kind = LinkKindName(parsed->kind);
    return r;
  };

  switch (parsed->kind) {
    case LinkKind::kOpen: {
      LinkResponse r;
      r.status = 200;
      r.kind = "open";
      r.content_type = kTransparentGifContentType;
      r.body = TransparentGif();
      r.headers.emplace_back("Cache-Control", "no-store, max-age=0");
      if (check.ok()) {
        Value f = Value::MakeMap();
        f.Set("message_id", Value::String(check.claims.message_id));
        Accept("message_opened", f);
      }
      return r;
    }
    case LinkKind::kClick: {
      if (!check.ok()) return refused("Please open the shop from its home page.");
      Value f = Value::MakeMap();
      f.Set("message_id", Value::String(check.claims.message_id));
      f.Set("url", Value::String(check.claims.url));
      Accept("link_clicked", f);
      LinkResponse r;
      r.status = 302;
      r.kind = "click";
      r.body = "";
      r.headers.emplace_back("Location", check.claims.url);
      r.headers.emplace_back("Cache-Control", "no-store");
      return r;
    }
    case LinkKind::kRestore: {
      if (!check.ok()) return refused("Your cart can still be found in the shop.");
      // The way back to the cart is the message's main button: it counts as a click.
      Value f = Value::MakeMap();
      f.Set("message_id", Value::String(check.claims.message_id));
      f.Set("url", Value::String(LinkUrl(opts.shop.base_url, LinkKind::kRestore, parsed->token)));
      Accept("link_clicked", f);
      LinkResponse r;
      r.status = 200;
      r.kind = "restore";
      r.content_type = "application/json";
      r.headers.emplace_back("Cache-Control", "no-store");
      r.cart = GetCart(check.claims.cart_id);
      if (!r.cart) return refused("This cart no longer exists.");
      return r;
    }
    case LinkKind::kUnsubscribe: {
      if (!check.ok()) return refused("Write to us and we will unsubscribe you by hand.");
      if (method != "POST") {
        // Mail scanners follow GET links: a GET only asks.
        LinkResponse r = Page(200, shop, "Unsubscribe",
                              "<p>Stop receiving reminders from " + HtmlEscape(shop) +
                                  "?</p><form method=\"post\"><input type=\"hidden\" "
                                  "name=\"List-Unsubscribe\" value=\"One-Click\"><button "
                                  "type=\"submit\">Unsubscribe</button></form>");
        r.kind = "unsubscribe";
        return r;
      }
      std::optional<Contact> contact;
      {
        Flush();
        Runtime& rt = impl_->R();
        std::lock_guard<std::timed_mutex> lock(rt.store_mu);
        if (auto m = rt.store->LoadMessage(check.claims.message_id))
          contact = rt.store->LoadContact(m->contact_key);
      }
      if (contact && (!contact->email.empty() || !contact->phone.empty())) {
        Value f = Value::MakeMap();
        if (!contact->email.empty()) f.Set("email", Value::String(contact->email));
        if (!contact->phone.empty()) f.Set("phone", Value::String(contact->phone));
        f.Set("message_id", Value::String(check.claims.message_id));  // counted against it
        Track("unsubscribed", f);  // committed before we say it is done
      }
      LinkResponse r = Page(200, shop, "You are unsubscribed",
                            "<p>You will not get any more reminders from us, by e-mail or "
                            "SMS.</p>");
      r.kind = "unsubscribe";
      return r;
    }
  }
  return none;
}

}  // namespace cartrecovery
