// templates_de.cpp: the shipped templates in German ("de").
//
// Same names, structure and playbook intent as the English ones in templates.cpp (see the
// comments there); the shared layout takes its words from kGermanUi. The shopper is
// addressed with "Sie", which suits any shop; the first-name greeting ("Hallo Anna,") goes
// well with it. Every greeting ends in a comma, so, as German letters do, each body starts
// in lower case unless its first word is a noun or "Sie"/"Ihr".
#include <string>

#include "render/render_internal.h"

namespace cartrecovery {
namespace render_internal {
namespace {

const UiWords kGermanUi = {
    "Hallo ", ",", "Guten Tag,",
    "Ihr Warenkorb:", "Menge", "Preis", "Gesamt", "Ihr Code", "Zurück zum Warenkorb",
    "Fragen? Wir helfen Ihnen gern:", "E-Mail", "Telefon", "Chat", "Schreiben Sie uns",
    "Sie möchten keine Erinnerungen mehr erhalten?", "Abmelden",
};

// Umlauts and ß are in the GSM 7-bit alphabet, so this stays one 160-character segment
// for a short shop name and link (R3.3).
const char* const kGermanShortText =
    "*|SHOP_NAME|*: Ihr Warenkorb ist noch gespeichert.{{#has_coupon}} Code: *|COUPON|*."
    "{{/has_coupon}} Bestellung abschließen: *|CART_URL|*";

const TemplateSource kGerman[] = {
    {"customer_1", "Ist bei Ihrer Bestellung etwas schiefgelaufen?",
     R"CR(schön, dass Sie wieder bei uns einkaufen! Ihre Bestellung wurde anscheinend nicht abgeschlossen, deshalb haben wir Ihren Warenkorb gespeichert.

Gab es ein technisches Problem, oder hat Ihnen eine Zahlungsart gefehlt? Antworten Sie einfach auf diese E-Mail, dann kümmern wir uns darum. Wir freuen uns auch über Ihre Hinweise, was wir einfacher machen können.)CR",
     R"CR(<p>schön, dass Sie wieder bei uns einkaufen! Ihre Bestellung wurde anscheinend nicht abgeschlossen, deshalb haben wir Ihren Warenkorb gespeichert.</p>
<p>Gab es ein technisches Problem, oder hat Ihnen eine Zahlungsart gefehlt? Antworten Sie einfach auf diese E-Mail, dann kümmern wir uns darum. Wir freuen uns auch über Ihre Hinweise, was wir einfacher machen können.</p>)CR"},

    {"customer_2", "Können wir Ihnen bei der Bestellung helfen?",
     R"CR(Ihre Artikel liegen noch in Ihrem Warenkorb. Haben Sie eine Frage zu einem Produkt, zur Lieferung oder zur Zahlung? Unser Team hilft Ihnen gern.

Antworten Sie einfach auf diese E-Mail{{#has_contact}} oder melden Sie sich direkt bei uns; unsere Kontaktdaten finden Sie unten{{/has_contact}}.)CR",
     R"CR(<p>Ihre Artikel liegen noch in Ihrem Warenkorb. Haben Sie eine Frage zu einem Produkt, zur Lieferung oder zur Zahlung? Unser Team hilft Ihnen gern.</p>
<p>Antworten Sie einfach auf diese E-Mail{{#has_contact}} oder melden Sie sich direkt bei uns; unsere Kontaktdaten finden Sie unten{{/has_contact}}.</p>)CR"},

    {"customer_3", "Dürfen wir fragen, was Sie aufgehalten hat?",
     R"CR(Ihre Bestellung wurde nicht abgeschlossen, und wir würden gern verstehen, warum. Lag es am Preis, an der Lieferung oder an etwas anderem?

Ein paar Worte als Antwort genügen, und jede Rückmeldung hilft uns, besser zu werden. Wenn Sie Ihre Artikel noch möchten: Ihr Warenkorb ist bereit.)CR",
     R"CR(<p>Ihre Bestellung wurde nicht abgeschlossen, und wir würden gern verstehen, warum. Lag es am Preis, an der Lieferung oder an etwas anderem?</p>
<p>Ein paar Worte als Antwort genügen, und jede Rückmeldung hilft uns, besser zu werden. Wenn Sie Ihre Artikel noch möchten: Ihr Warenkorb ist bereit.</p>)CR"},

    {"visitor_1", "Brauchen Sie Hilfe bei Ihrer Bestellung?",
     R"CR(Sie konnten Ihre Bestellung bei {{shop.name}} anscheinend nicht abschließen. Kein Problem: Wir haben Ihren Warenkorb gespeichert.

Gab es ein technisches Problem, oder hat Ihnen eine Zahlungsart gefehlt? Antworten Sie einfach, und wir helfen Ihnen. Und falls Sie etwas gestört hat, freuen wir uns über Ihr Feedback.)CR",
     R"CR(<p>Sie konnten Ihre Bestellung bei {{shop.name}} anscheinend nicht abschließen. Kein Problem: Wir haben Ihren Warenkorb gespeichert.</p>
<p>Gab es ein technisches Problem, oder hat Ihnen eine Zahlungsart gefehlt? Antworten Sie einfach, und wir helfen Ihnen. Und falls Sie etwas gestört hat, freuen wir uns über Ihr Feedback.</p>)CR"},

    {"visitor_2_unopened", "Wir wollten kurz nachfragen",
     R"CR(wir wollten uns kurz melden: Ihr Warenkorb bei {{shop.name}} ist noch gespeichert.

Darum lohnt sich der Einkauf bei uns:
- Ihr Warenkorb wartet auf Sie, Sie bestellen also, wann es Ihnen passt.
- Echte Menschen beantworten Ihre Fragen{{#shop.contact_phone}}, per E-Mail oder Telefon{{/shop.contact_phone}}.
- Die Bestellung ist in wenigen Schritten erledigt.)CR",
     R"CR(<p>wir wollten uns kurz melden: Ihr Warenkorb bei {{shop.name}} ist noch gespeichert.</p>
<p><strong>Darum lohnt sich der Einkauf bei uns:</strong></p>
<ul>
<li>Ihr Warenkorb wartet auf Sie, Sie bestellen also, wann es Ihnen passt.</li>
<li>Echte Menschen beantworten Ihre Fragen{{#shop.contact_phone}}, per E-Mail oder Telefon{{/shop.contact_phone}}.</li>
<li>Die Bestellung ist in wenigen Schritten erledigt.</li>
</ul>)CR"},

    {"visitor_3_unopened", "Ihr Warenkorb bleibt nicht ewig gespeichert",
     R"CR(wir möchten Sie kurz erinnern: Wir können Ihren Warenkorb nicht mehr lange aufbewahren, und beliebte Artikel sind manchmal schnell ausverkauft.

Wenn Sie die Artikel noch möchten, ist jetzt ein guter Moment, Ihre Bestellung abzuschließen.)CR",
     R"CR(<p>wir möchten Sie kurz erinnern: Wir können Ihren Warenkorb nicht mehr lange aufbewahren, und beliebte Artikel sind manchmal schnell ausverkauft.</p>
<p>Wenn Sie die Artikel noch möchten, ist jetzt ein guter Moment, Ihre Bestellung abzuschließen.</p>)CR"},

    {"visitor_2_opened", "So bestellen Sie bei {{shop.name}}",
     R"CR(danke, dass Sie unsere letzte Nachricht gelesen haben. Falls Sie sich fragen, wie eine Bestellung bei uns abläuft:

1. Über den Link unten kommen Sie zurück zu Ihrem Warenkorb. Ihre Artikel sind gespeichert.
2. An der Kasse wählen Sie Lieferung und Zahlungsart.
3. Wir machen Ihre Bestellung fertig und halten Sie per E-Mail auf dem Laufenden.

Fragen unterwegs? Wir helfen Ihnen gern.)CR",
     R"CR(<p>danke, dass Sie unsere letzte Nachricht gelesen haben. Falls Sie sich fragen, wie eine Bestellung bei uns abläuft:</p>
<ol>
<li>Über die Schaltfläche unten kommen Sie zurück zu Ihrem Warenkorb. Ihre Artikel sind gespeichert.</li>
<li>An der Kasse wählen Sie Lieferung und Zahlungsart.</li>
<li>Wir machen Ihre Bestellung fertig und halten Sie per E-Mail auf dem Laufenden.</li>
</ol>
<p>Fragen unterwegs? Wir helfen Ihnen gern.</p>)CR"},

    {"visitor_3_opened", "Was andere Kunden uns fragen",
     R"CR(Sie sind noch unentschlossen? Andere Kunden teilen ihre Bewertungen auf unseren Produktseiten. Hier sind die Antworten auf die häufigsten Fragen:

Ist mein Warenkorb noch gespeichert?
Ja. Der Link unten bringt Sie direkt dorthin zurück.

Kann ich anders bezahlen?
Antworten Sie auf diese E-Mail, und wir nennen Ihnen die Zahlungsarten, die wir anbieten.

Ich habe eine Frage zu einem Produkt. Wen kann ich fragen?
Uns! Antworten Sie einfach auf diese E-Mail{{#has_contact}} oder nutzen Sie die Kontaktdaten unten{{/has_contact}}.)CR",
     R"CR(<p>Sie sind noch unentschlossen? Andere Kunden teilen ihre Bewertungen auf unseren Produktseiten. Hier sind die Antworten auf die häufigsten Fragen:</p>
<p><strong>Ist mein Warenkorb noch gespeichert?</strong><br>Ja. Die Schaltfläche unten bringt Sie direkt dorthin zurück.</p>
<p><strong>Kann ich anders bezahlen?</strong><br>Antworten Sie auf diese E-Mail, und wir nennen Ihnen die Zahlungsarten, die wir anbieten.</p>
<p><strong>Ich habe eine Frage zu einem Produkt. Wen kann ich fragen?</strong><br>Uns! Antworten Sie einfach auf diese E-Mail{{#has_contact}} oder nutzen Sie die Kontaktdaten unten{{/has_contact}}.</p>)CR"},

    {"visitor_2_clicked",
     "{{#has_coupon}}Ein kleines Extra, wenn Sie bald bestellen{{/has_coupon}}"
     "{{^has_coupon}}Ihr Warenkorb ist bereit, wenn Sie es sind{{/has_coupon}}",
     R"CR(Sie waren fast fertig! Ihr Warenkorb ist gespeichert und bereit für die Kasse.

{{#has_coupon}}Bestellen Sie bald und sparen Sie mit Ihrem persönlichen Code *|COUPON|*. Er gilt nur für kurze Zeit.{{/has_coupon}}{{^has_coupon}}Bestellen Sie am besten bald: Wir können Ihren Warenkorb nur für begrenzte Zeit aufbewahren.{{/has_coupon}})CR",
     R"CR(<p>Sie waren fast fertig! Ihr Warenkorb ist gespeichert und bereit für die Kasse.</p>
<p>{{#has_coupon}}Bestellen Sie bald und sparen Sie mit Ihrem persönlichen Code <strong>*|COUPON|*</strong>. Er gilt nur für kurze Zeit.{{/has_coupon}}{{^has_coupon}}Bestellen Sie am besten bald: Wir können Ihren Warenkorb nur für begrenzte Zeit aufbewahren.{{/has_coupon}}</p>)CR"},

    {"visitor_3_clicked", "Noch Fragen vor Ihrer Bestellung?",
     R"CR(Sie hatten Ihre Bestellung fast abgeschlossen. Können wir Ihnen vor Ihrer Entscheidung noch etwas beantworten?

Antworten Sie einfach auf diese E-Mail{{#has_contact}} oder erreichen Sie uns auf einem der Wege unten{{/has_contact}}. Wir helfen Ihnen gern.)CR",
     R"CR(<p>Sie hatten Ihre Bestellung fast abgeschlossen. Können wir Ihnen vor Ihrer Entscheidung noch etwas beantworten?</p>
<p>Antworten Sie einfach auf diese E-Mail{{#has_contact}} oder erreichen Sie uns auf einem der Wege unten{{/has_contact}}. Wir helfen Ihnen gern.</p>)CR"},

    {"reminder", "Ihr Warenkorb wartet auf Sie",
     R"CR(Sie haben bei {{shop.name}} ein paar Dinge im Warenkorb gelassen. Wir haben sie für Sie gespeichert.

Ist etwas schiefgelaufen? Wenn es an der Kasse Probleme gab oder Sie anders bezahlen möchten, antworten Sie einfach auf diese E-Mail, und wir helfen Ihnen.)CR",
     R"CR(<p>Sie haben bei {{shop.name}} ein paar Dinge im Warenkorb gelassen. Wir haben sie für Sie gespeichert.</p>
<p>Ist etwas schiefgelaufen? Wenn es an der Kasse Probleme gab oder Sie anders bezahlen möchten, antworten Sie einfach auf diese E-Mail, und wir helfen Ihnen.</p>)CR"},
};

}  // namespace

const LanguagePack& GermanPack() {
  static const LanguagePack kPack = {"de", kGermanUi, kGermanShortText, kGerman,
                                     sizeof kGerman / sizeof kGerman[0]};
  return kPack;
}

}  // namespace render_internal
}  // namespace cartrecovery
