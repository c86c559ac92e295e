/* cartrecovery browser script: no dependencies, served by the Django/Flask adapter.
 *
 * Included once per page by the adapter's script tag, which carries its settings:
 *   data-cr-endpoint  the adapter's mount URL ("/cr/"); beacons go to <endpoint>b
 *   data-cr-token     a signed visitor token; the server takes visitor and cart ids from it
 *   data-cr-page      page type for warm leads (R1.4): home, category, product, cart, checkout
 *   data-cr-cart-items  items in the cart (> 0 enables the abandoned-tab notice, R5.3)
 *   data-cr-away-title  the title shown while the tab is hidden (optional)
 *   data-cr-product   product id on product pages (optional)
 *
 * What it does: page-view beacons; contact capture as the shopper types into fields marked
 * data-cr-capture="email" | "phone" | "first_name" (debounced, R1.5); exit intent (R5.1) at
 * most once per session, asking the server what to show; the abandoned-tab notice (R5.3).
 * It never posts anywhere but its own origin.
 */
(function () {
  "use strict";
  var d = document, w = window;
  var tag = d.currentScript || d.querySelector("script[data-cr-endpoint]");
  if (!tag || w.__cartrecovery) return;
  var endpoint = new URL(tag.getAttribute("data-cr-endpoint") || "/cr/", location.href);
  if (endpoint.origin !== location.origin) return; // same-origin only, by design
  var cfg = {
    token: tag.getAttribute("data-cr-token"),
    page: tag.getAttribute("data-cr-page") || "other",
    product: tag.getAttribute("data-cr-product"),
    items: parseInt(tag.getAttribute("data-cr-cart-items") || "0", 10) || 0,
    away: tag.getAttribute("data-cr-away-title")
  };
  var api = w.__cartrecovery = { cfg: cfg, sent: [] };
  var tz = "";
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) {}
  if (tz) d.cookie = "cr_tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; SameSite=Lax";

  function url(path) { return new URL(path, endpoint).href; }

  function beacon(events) {
    var body = JSON.stringify({ t: cfg.token, events: events });
    api.sent.push(events);
    if (navigator.sendBeacon && navigator.sendBeacon(url("b"), body)) return;
    try { fetch(url("b"), { method: "POST", body: body, keepalive: true, credentials: "same-origin" }); } catch (e) {}
  }
  api.beacon = beacon;

  // ---- page view (R1.4) ---------------------------------------------------------------
  var pv = { type: "page_view", page_type: cfg.page, url: location.href.slice(0, 2000) };
  if (cfg.product) pv.product_id = cfg.product;
  beacon([pv]);

  // ---- contact capture as the shopper types (R1.5) -------------------------------------
  var EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/, PHONE = /^\+?[0-9 ().\-]{7,20}$/;
  var lastKey = null, timer = null;
  function contactNow() {
    clearTimeout(timer); timer = null;
    var ev = { type: "contact", timezone: tz || undefined }, any = false;
    var fields = d.querySelectorAll("[data-cr-capture]");
    for (var i = 0; i < fields.length; i++) {
      var kind = fields[i].getAttribute("data-cr-capture"), v = (fields[i].value || "").trim();
      if (kind === "email" && EMAIL.test(v)) ev.email = v;
      else if (kind === "phone" && PHONE.test(v)) ev.phone = v.replace(/[ ().\-]/g, "");
      else if (kind === "first_name" && v) ev.first_name = v.slice(0, 100);
    }
    if (!ev.email && !ev.phone) return;
    var key = [ev.email, ev.phone, ev.first_name].join("|");
    if (key === lastKey) return;
    lastKey = key;
    beacon([ev]);
  }
  function onInput(e) {
    if (!e.target || !e.target.getAttribute || !e.target.getAttribute("data-cr-capture")) return;
    clearTimeout(timer);
    timer = setTimeout(contactNow, e.type === "input" ? 600 : 0);
  }
  d.addEventListener("input", onInput, true);
  d.addEventListener("change", onInput, true);
  d.addEventListener("submit", contactNow, true);
  w.addEventListener("pagehide", function () { if (timer) contactNow(); });

  // ---- abandoned-tab notice (R5.3) -----------------------------------------------------
  var savedTitle = null, icon = null, savedIcon = null;
  var badge = "data:image/svg+xml," + encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#d33"/>' +
    '<text x="8" y="12" font-size="11" text-anchor="middle" fill="#fff" font-family="sans-serif">' +
    Math.min(cfg.items, 9) + "</text></svg>");
  function tabNotice(hidden) {
    if (!cfg.items) return;
    if (hidden && savedTitle === null) {
      savedTitle = d.title;
      d.title = cfg.away || "(" + cfg.items + ") Your cart is waiting";
      icon = d.querySelector("link[rel~='icon']");
      if (!icon) { icon = d.createElement("link"); icon.rel = "icon"; d.head.appendChild(icon); }
      savedIcon = icon.getAttribute("href");
      icon.setAttribute("href", badge);
    } else if (!hidden && savedTitle !== null) {
      d.title = savedTitle; savedTitle = null;
      if (savedIcon === null) icon.removeAttribute("href"); else icon.setAttribute("href", savedIcon);
    }
  }

  // ---- exit intent (R5.1), at most once per session ------------------------------------
  var KEY = "cartrecovery.exit";
  function once() {
    try { if (sessionStorage.getItem(KEY)) return false; sessionStorage.setItem(KEY, "1"); } catch (e) {
      if (api.exitDone) return false;
    }
    api.exitDone = true;
    return true;
  }
  function exitIntent(reason) {
    if (!once()) return;
    api.exitReason = reason;
    fetch(url("x"), {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ t: cfg.token, context: { page_type: cfg.page, trigger: reason, url: location.href.slice(0, 500) } })
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (decision) {
      api.decision = decision;
      if (decision && decision.show) {
        if (d.visibilityState === "hidden") {
          d.addEventListener("visibilitychange", function show() {
            if (d.visibilityState === "visible") { d.removeEventListener("visibilitychange", show); popup(decision); }
          });
        } else popup(decision);
      }
    }).catch(function () {});
  }
  api.exitIntent = exitIntent;

  var touch = ("ontouchstart" in w) || (navigator.maxTouchPoints > 0);
  if (!touch) {
    d.addEventListener("mouseout", function (e) {
      if (!e.relatedTarget && e.clientY <= 0) exitIntent("pointer_top");
    });
  } else {
    var lastY = w.scrollY, lastT = Date.now();
    w.addEventListener("scroll", function () {
      var now = Date.now(), dy = w.scrollY - lastY, dt = Math.max(now - lastT, 1);
      if (dy < -120 && dy / dt < -1.5 && w.scrollY > 0) exitIntent("fast_scroll_up");
      lastY = w.scrollY; lastT = now;
    }, { passive: true });
    try {
      history.pushState({ cartrecovery: 1 }, "", location.href);
      w.addEventListener("popstate", function () { exitIntent("back"); });
    } catch (e) {}
  }
  d.addEventListener("visibilitychange", function () {
    var hidden = d.visibilityState === "hidden";
    tabNotice(hidden);
    if (hidden && touch) exitIntent("tab_hidden");
  });

  // ---- the popup ----------------------------------------------------------------------
  // The engine's discount ({kind, percent} or {kind, amount, currency}) in words.
  function discountText(d) {
    if (!d) return "a discount";
    if (typeof d === "string") return d;
    var trim = function (v) { return String(v).replace(/\.0+$/, "").replace(/(\.\d*[1-9])0+$/, "$1"); };
    if (d.percent != null) return trim(d.percent) + " %";
    if (d.amount != null) return trim(d.amount) + " " + (d.currency || "");
    return "a discount";
  }

  function el(name, attrs, text) {
    var e = d.createElement(name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text) e.textContent = text;
    return e;
  }
  function popup(decision) {
    var before = d.activeElement;
    var overlay = el("div", { "class": "cr-overlay", style: "position:fixed;inset:0;background:rgba(0,0,0,.45);z-index:2147483000;display:flex;align-items:center;justify-content:center" });
    var box = el("div", { "class": "cr-popup", role: "dialog", "aria-modal": "true", "aria-labelledby": "cr-title",
      "aria-describedby": "cr-text", "data-cr-kind": decision.kind,
      style: "background:#fff;color:#222;max-width:24rem;margin:1rem;padding:1.5rem;border-radius:.5rem;font:16px/1.4 sans-serif;box-shadow:0 4px 24px rgba(0,0,0,.3)" });
    var title = el("h2", { id: "cr-title", style: "margin:0 0 .5rem;font-size:1.25rem" });
    var text = el("p", { id: "cr-text" });
    box.appendChild(title); box.appendChild(text);
    if (decision.kind === "coupon" && decision.coupon) {
      title.textContent = decision.title || "Before you go";
      text.textContent = decision.text || ("Take " + discountText(decision.coupon.discount) + " off your order with this code:");
      box.appendChild(el("p", { "class": "cr-coupon", style: "font:bold 1.5rem monospace;letter-spacing:.1em;text-align:center" }, decision.coupon.code));
    } else if (decision.kind === "email_capture") {
      title.textContent = decision.title || "Keep your cart";
      text.textContent = decision.text || "Leave your e-mail and we will keep your cart for you.";
      var form = el("form", { "class": "cr-capture" });
      var label = el("label", { "for": "cr-email" }, "E-mail");
      var input = el("input", { id: "cr-email", type: "email", name: "email", required: "", autocomplete: "email", style: "display:block;width:100%;margin:.25rem 0 .75rem" });
      var consentLabel = el("label", { "for": "cr-consent" });
      var consent = el("input", { id: "cr-consent", type: "checkbox", name: "consent", required: "" });
      consentLabel.appendChild(consent);
      consentLabel.appendChild(d.createTextNode(" " + (decision.consent_text || "You may e-mail me about my cart.")));
      form.appendChild(label); form.appendChild(input); form.appendChild(consentLabel);
      form.appendChild(el("button", { type: "submit", style: "display:block;margin-top:.75rem" }, "Save my cart"));
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        if (!EMAIL.test(input.value.trim()) || !consent.checked) return;
        beacon([{ type: "contact", email: input.value.trim(), timezone: tz || undefined, consent: { email: true } }]);
        close();
      });
      box.appendChild(form);
    } else return;
    var closeBtn = el("button", { type: "button", "class": "cr-close", "aria-label": "Close", style: "margin-top:.75rem" }, "No, thanks");
    closeBtn.addEventListener("click", close);
    box.appendChild(closeBtn);
    overlay.appendChild(box);
    overlay.addEventListener("click", function (e) { if (e.target === overlay) close(); });
    function focusables() { return box.querySelectorAll("button, input, a[href]"); }
    function onKey(e) {
      if (e.key === "Escape") { e.preventDefault(); close(); }
      else if (e.key === "Tab") {
        var f = focusables(), first = f[0], last = f[f.length - 1];
        if (e.shiftKey && d.activeElement === first) { e.preventDefault(); last.focus(); }
        else if (!e.shiftKey && d.activeElement === last) { e.preventDefault(); first.focus(); }
      }
    }
    function close() {
      d.removeEventListener("keydown", onKey, true);
      if (overlay.parentNode) overlay.parentNode.removeChild(overlay);
      if (before && before.focus) before.focus();
    }
    d.addEventListener("keydown", onKey, true);
    d.body.appendChild(overlay);
    focusables()[0].focus();
    api.popup = box;
  }
  api.popup = null;
})();
