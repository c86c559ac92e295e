// templates.cpp: the shared layout and the shipped English templates, compiled in
// (templates_de.cpp and templates_pl.cpp hold the German and Polish ones).
//
// Each template contributes a subject, a plain-text body and an HTML body; the shared
// layout around them (greeting, the cart with images and prices, the button back to the
// cart, coupon, contact ways, unsubscribe) is written once below, so every message shows
// the cart the same way (R3.8) and stays readable on a phone (R3.9: one column, at most
// 600px wide, table layout, inline styles).
//
// Wording follows ../shared/PLAYBOOKS.md: reminder 1 helps rather than sells (R2.5); the
// customer path offers help and sales contacts, then asks why (R2.2); the visitor path
// branches on engagement with reminder 1 (R2.3).
//
// The layout's fixed words come from {{ui.*}}, the words of the template's language, so one
// layout serves every language. Context variables: see BuildContext() in render.cpp. The
// text parts render without HTML escaping; the HTML part escapes every {{x}}.
#include <string>
#include <utility>
#include <vector>

#include "render/render_internal.h"

namespace cartrecovery {
namespace render_internal {
namespace {

// ---------------------------------------------------------------------------------------
// Shared layout. @@BODY@@ is replaced by the template's own body.

const char* const kTextLayout = R"CR({{greeting}}

@@BODY@@

{{ui.your_cart}}
{{#items}}
- {{name}}: {{quantity}} x {{price}}
{{/items}}
{{ui.total}}: {{total}}
{{#has_coupon}}

{{ui.your_code}}: *|COUPON|*
{{/has_coupon}}

{{ui.return_to_cart}}: *|CART_URL|*
{{#has_contact}}

{{ui.questions}}
{{#shop.contact_email}}
{{ui.email}}: {{shop.contact_email}}
{{/shop.contact_email}}
{{#shop.contact_phone}}
{{ui.phone}}: {{shop.contact_phone}}
{{/shop.contact_phone}}
{{#shop.chat_url}}
{{ui.chat}}: {{shop.chat_url}}
{{/shop.chat_url}}
{{/has_contact}}

*|SHOP_NAME|*
{{#unsubscribe_url}}
{{ui.unsubscribe_question}} {{ui.unsubscribe}}: *|UNSUBSCRIBE_URL|*
{{/unsubscribe_url}}
)CR";

const char* const kHtmlLayout = R"CR(<!DOCTYPE html>
<html lang="{{language}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="x-apple-disable-message-reformatting">
<title>{{shop.name}}</title>
</head>
<body style="margin:0;padding:0;background-color:#f4f4f5;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;background-color:#f4f4f5;">
<tr>
<td align="center" style="padding:16px 8px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;max-width:600px;background-color:#ffffff;border-radius:8px;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:24px;color:#222222;">
<tr>
<td style="padding:24px 24px 8px 24px;font-size:20px;line-height:28px;font-weight:bold;color:#111111;">*|SHOP_NAME|*</td>
</tr>
<tr>
<td style="padding:8px 24px 0 24px;">
<p style="margin:0 0 16px 0;">{{greeting}}</p>
@@BODY@@
</td>
</tr>
<tr>
<td style="padding:8px 24px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;">
{{#items}}
<tr>
<td width="80" valign="top" style="width:80px;padding:12px 12px 12px 0;border-top:1px solid #e4e4e7;">{{#image_url}}<img src="{{image_url}}" alt="{{name}}" width="80" style="display:block;width:80px;max-width:80px;height:auto;border:0;">{{/image_url}}</td>
<td valign="top" style="padding:12px 0;border-top:1px solid #e4e4e7;"><strong>{{#url}}<a href="{{url}}" style="color:#111111;text-decoration:none;">{{name}}</a>{{/url}}{{^url}}{{name}}{{/url}}</strong><br>{{ui.quantity}}: {{quantity}}<br>{{ui.price}}: {{price}}</td>
</tr>
{{/items}}
<tr>
<td colspan="2" align="right" style="padding:12px 0;border-top:1px solid #e4e4e7;font-size:18px;font-weight:bold;">{{ui.total}}: {{total}}</td>
</tr>
</table>
</td>
</tr>
{{#has_coupon}}
<tr>
<td align="center" style="padding:8px 24px;">
<p style="margin:0;padding:12px;border:2px dashed #1d4ed8;border-radius:6px;">{{ui.your_code}}: <strong style="font-size:18px;letter-spacing:1px;">*|COUPON|*</strong></p>
</td>
</tr>
{{/has_coupon}}
<tr>
<td align="center" style="padding:16px 24px 24px 24px;">
<table role="presentation" cellpadding="0" cellspacing="0" border="0">
<tr>
<td align="center" bgcolor="#1d4ed8" style="border-radius:6px;background-color:#1d4ed8;">
<a href="*|CART_URL|*" style="display:inline-block;padding:14px 32px;font-size:18px;line-height:24px;font-weight:bold;color:#ffffff;text-decoration:none;border-radius:6px;">{{ui.return_to_cart}}</a>
</td>
</tr>
</table>
</td>
</tr>
{{#has_contact}}
<tr>
<td style="padding:0 24px 16px 24px;font-size:14px;line-height:22px;color:#444444;">
<p style="margin:0 0 4px 0;font-weight:bold;">{{ui.questions}}</p>
{{#shop.contact_email}}
{{ui.email}}: <a href="mailto:{{shop.contact_email}}" style="color:#1d4ed8;">{{shop.contact_email}}</a><br>
{{/shop.contact_email}}
{{#shop.contact_phone}}
{{ui.phone}}: <a href="tel:{{shop.contact_phone_tel}}" style="color:#1d4ed8;">{{shop.contact_phone}}</a><br>
{{/shop.contact_phone}}
{{#shop.chat_url}}
{{ui.chat}}: <a href="{{shop.chat_url}}" style="color:#1d4ed8;">{{ui.chat_link}}</a><br>
{{/shop.chat_url}}
</td>
</tr>
{{/has_contact}}
</table>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;max-width:600px;font-family:Arial,Helvetica,sans-serif;font-size:12px;line-height:18px;color:#71717a;">
<tr>
<td align="center" style="padding:16px 24px;">*|SHOP_NAME|*{{#unsubscribe_url}}<br>{{ui.unsubscribe_question}} <a href="*|UNSUBSCRIBE_URL|*" style="color:#71717a;">{{ui.unsubscribe}}</a>{{/unsubscribe_url}}</td>
</tr>
</table>
</td>
</tr>
</table>
{{#open_pixel_url}}
<img src="{{open_pixel_url}}" width="1" height="1" alt="">
{{/open_pixel_url}}
</body>
</html>
)CR";

// One line for SMS, push and webhooks: who, why, where (R3.3 keeps it short).
const char* const kEnglishShortText =
    "*|SHOP_NAME|*: your cart is still saved.{{#has_coupon}} Code *|COUPON|*.{{/has_coupon}} "
    "Finish your order: *|CART_URL|*";

// ---------------------------------------------------------------------------------------
// The templates. Keep words short and friendly; no promises the shop may not keep.

const TemplateSource kEnglish[] = {
    // R2.5: the first reminder helps rather than sells.
    {"customer_1", "Did something go wrong with your order?",
     R"CR(Thanks for shopping with us again! It looks like your order didn't go through, so we saved your cart.

Was there a technical problem, or were you missing a payment option? Reply to this e-mail and we'll sort it out. We'd also love to hear what we could make easier.)CR",
     R"CR(<p>Thanks for shopping with us again! It looks like your order didn't go through, so we saved your cart.</p>
<p>Was there a technical problem, or were you missing a payment option? Reply to this e-mail and we'll sort it out. We'd also love to hear what we could make easier.</p>)CR"},

    // R2.2: reminder 2 offers help and the sales contacts.
    {"customer_2", "Can we help with your order?",
     R"CR(Your items are still in your cart. If you have a question about a product, delivery or payment, our team is glad to help.

Reply to this e-mail{{#has_contact}} or reach us directly; our contact details are below{{/has_contact}}.)CR",
     R"CR(<p>Your items are still in your cart. If you have a question about a product, delivery or payment, our team is glad to help.</p>
<p>Reply to this e-mail{{#has_contact}} or reach us directly; our contact details are below{{/has_contact}}.</p>)CR"},

    // R2.2: reminder 3 asks, politely, why.
    {"customer_3", "May we ask what held you back?",
     R"CR(We noticed you didn't finish your order, and we'd like to understand why. Was it the price, the delivery, or something else?

A few words in reply are enough, and every answer helps us do better. If you still want your items, your cart is ready.)CR",
     R"CR(<p>We noticed you didn't finish your order, and we'd like to understand why. Was it the price, the delivery, or something else?</p>
<p>A few words in reply are enough, and every answer helps us do better. If you still want your items, your cart is ready.</p>)CR"},

    {"visitor_1", "Need a hand with your order?",
     R"CR(It looks like you didn't get to finish your order at {{shop.name}}. No worries: we saved your cart.

Did you run into a technical problem, or miss a payment option? Just reply and we'll help. And if something put you off, we'd love your feedback.)CR",
     R"CR(<p>It looks like you didn't get to finish your order at {{shop.name}}. No worries: we saved your cart.</p>
<p>Did you run into a technical problem, or miss a payment option? Just reply and we'll help. And if something put you off, we'd love your feedback.</p>)CR"},

    // R2.3, not opened: check in and show what the shop offers, then time is running out.
    {"visitor_2_unopened", "Just checking in",
     R"CR(We wanted to check in: your cart at {{shop.name}} is still saved.

Why shop with us:
- Your cart waits for you, so you can finish whenever it suits you.
- Real people answer your questions{{#shop.contact_phone}}, by e-mail or phone{{/shop.contact_phone}}.
- Checking out takes only a few steps.)CR",
     R"CR(<p>We wanted to check in: your cart at {{shop.name}} is still saved.</p>
<p><strong>Why shop with us:</strong></p>
<ul>
<li>Your cart waits for you, so you can finish whenever it suits you.</li>
<li>Real people answer your questions{{#shop.contact_phone}}, by e-mail or phone{{/shop.contact_phone}}.</li>
<li>Checking out takes only a few steps.</li>
</ul>)CR"},

    {"visitor_3_unopened", "Your cart won't be saved forever",
     R"CR(A quick reminder: we can't hold your cart much longer, and popular items can sell out.

If you'd still like them, now is a good time to finish your order.)CR",
     R"CR(<p>A quick reminder: we can't hold your cart much longer, and popular items can sell out.</p>
<p>If you'd still like them, now is a good time to finish your order.</p>)CR"},

    // R2.3, opened: how the business works, then reviews and an FAQ.
    {"visitor_2_opened", "How ordering at {{shop.name}} works",
     R"CR(Thanks for reading our last note. In case you're wondering how ordering with us works:

1. Return to your cart with the link below. Your items are saved.
2. Choose delivery and payment at checkout.
3. We get your order ready and keep you posted by e-mail.

Questions along the way? We're happy to help.)CR",
     R"CR(<p>Thanks for reading our last note. In case you're wondering how ordering with us works:</p>
<ol>
<li>Return to your cart with the button below. Your items are saved.</li>
<li>Choose delivery and payment at checkout.</li>
<li>We get your order ready and keep you posted by e-mail.</li>
</ol>
<p>Questions along the way? We're happy to help.</p>)CR"},

    {"visitor_3_opened", "What other shoppers ask us",
     R"CR(Still deciding? Other customers share their reviews on our product pages. Here are answers to what shoppers ask us most:

Is my cart still saved?
Yes. The link below takes you straight back to it.

Can I pay another way?
Reply to this e-mail and we'll tell you which options we offer.

I have a question about a product. Who can I ask?
Us! Just reply to this e-mail{{#has_contact}}, or use the contact details below{{/has_contact}}.)CR",
     R"CR(<p>Still deciding? Other customers share their reviews on our product pages. Here are answers to what shoppers ask us most:</p>
<p><strong>Is my cart still saved?</strong><br>Yes. The button below takes you straight back to it.</p>
<p><strong>Can I pay another way?</strong><br>Reply to this e-mail and we'll tell you which options we offer.</p>
<p><strong>I have a question about a product. Who can I ask?</strong><br>Us! Just reply to this e-mail{{#has_contact}}, or use the contact details below{{/has_contact}}.</p>)CR"},

    // R2.3, clicked: a perk for ordering within a set time, then an offer of help.
    {"visitor_2_clicked",
     "{{#has_coupon}}A little extra if you order soon{{/has_coupon}}"
     "{{^has_coupon}}Your cart is ready when you are{{/has_coupon}}",
     R"CR(You were almost there! Your cart is saved and ready for checkout.

{{#has_coupon}}Finish your order soon and save with your personal code *|COUPON|*. It's valid for a limited time only.{{/has_coupon}}{{^has_coupon}}Finish your order soon: we can only hold your cart for a limited time.{{/has_coupon}})CR",
     R"CR(<p>You were almost there! Your cart is saved and ready for checkout.</p>
<p>{{#has_coupon}}Finish your order soon and save with your personal code <strong>*|COUPON|*</strong>. It's valid for a limited time only.{{/has_coupon}}{{^has_coupon}}Finish your order soon: we can only hold your cart for a limited time.{{/has_coupon}}</p>)CR"},

    {"visitor_3_clicked", "Any questions before you order?",
     R"CR(You were close to finishing your order. Is there anything we can answer before you decide?

Just reply to this e-mail{{#has_contact}}, or reach us any way you like below{{/has_contact}}. We're happy to help.)CR",
     R"CR(<p>You were close to finishing your order. Is there anything we can answer before you decide?</p>
<p>Just reply to this e-mail{{#has_contact}}, or reach us any way you like below{{/has_contact}}. We're happy to help.</p>)CR"},
    // The generic fallback for steps without a template of their own; helpful, not pushy.
    {"reminder", "Your cart is waiting for you",
     R"CR(You left a few things in your cart at {{shop.name}}. We saved them for you.

Did something go wrong? If checkout gave you trouble, or you'd like to pay another way, just reply to this e-mail and we'll help.)CR",
     R"CR(<p>You left a few things in your cart at {{shop.name}}. We saved them for you.</p>
<p>Did something go wrong? If checkout gave you trouble, or you'd like to pay another way, just reply to this e-mail and we'll help.</p>)CR"},
};

const UiWords kEnglishUi = {
    "Hi ", ",", "Hello,",
    "Your cart:", "Quantity", "Price", "Total", "Your code", "Return to your cart",
    "Questions? We're happy to help:", "E-mail", "Phone", "Chat", "talk to us",
    "Don't want these reminders?", "Unsubscribe",
};

void ReplaceAll(std::string* s, const std::string& from, const std::string& to) {
  for (size_t pos = s->find(from); pos != std::string::npos; pos = s->find(from, pos + to.size()))
    s->replace(pos, from.size(), to);
}

// Bodies are written with bare tags; mail clients drop <style> blocks, so styles go inline.
std::string StyleHtml(std::string html) {
  ReplaceAll(&html, "<p>", "<p style=\"margin:0 0 16px 0;\">");
  ReplaceAll(&html, "<ul>", "<ul style=\"margin:0 0 16px 0;padding-left:24px;\">");
  ReplaceAll(&html, "<ol>", "<ol style=\"margin:0 0 16px 0;padding-left:24px;\">");
  ReplaceAll(&html, "<li>", "<li style=\"margin:0 0 4px 0;\">");
  return html;
}

std::string Wrap(const char* layout, const std::string& body) {
  std::string out = layout;
  ReplaceAll(&out, "@@BODY@@", body);
  return out;
}

}  // namespace

std::string AssembleText(const char* body) { return Wrap(kTextLayout, body); }

std::string AssembleHtml(const char* body) { return Wrap(kHtmlLayout, StyleHtml(body)); }

const LanguagePack& EnglishPack() {
  static const LanguagePack kPack = {"en", kEnglishUi, kEnglishShortText, kEnglish,
                                     sizeof kEnglish / sizeof kEnglish[0]};
  return kPack;
}

const std::vector<const LanguagePack*>& ShippedPacks() {
  static const std::vector<const LanguagePack*> kPacks = {&EnglishPack(), &GermanPack(),
                                                          &PolishPack()};
  return kPacks;
}

const LanguagePack* FindPack(const std::string& language) {
  for (const LanguagePack* pack : ShippedPacks())
    if (language == pack->language) return pack;
  return nullptr;
}

}  // namespace render_internal
}  // namespace cartrecovery
