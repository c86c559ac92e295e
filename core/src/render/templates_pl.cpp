// templates_pl.cpp: the shipped templates in Polish ("pl").
//
// Same names, structure and playbook intent as the English ones in templates.cpp (see the
// comments there); the shared layout takes its words from kPolishUi. The shopper is
// addressed informally ("ty"), as most Polish shops do, with the pronouns capitalized as
// Polish letters do ("Twój koszyk"). Second-person past tense is avoided because it is
// gendered ("dokończyłeś/dokończyłaś") and we do not know the shopper's gender.
#include <string>

#include "render/render_internal.h"

namespace cartrecovery {
namespace render_internal {
namespace {

const UiWords kPolishUi = {
    "Cześć ", ",", "Dzień dobry,",
    "Twój koszyk:", "Ilość", "Cena", "Razem", "Twój kod", "Wróć do koszyka",
    "Masz pytania? Chętnie pomożemy:", "E-mail", "Telefon", "Czat", "napisz do nas",
    "Nie chcesz dostawać tych przypomnień?", "Wypisz się",
};

// Without Polish diacritics on purpose, as Polish SMS usually are: one of ą ę ł ś ż ź ć ń ó
// would push the message out of the GSM 7-bit alphabet and cut a segment from 160 to 70
// characters (R3.3).
const char* const kPolishShortText =
    "*|SHOP_NAME|*: Twoj koszyk jest zapisany.{{#has_coupon}} Kod: *|COUPON|*.{{/has_coupon}} "
    "Dokoncz zamowienie: *|CART_URL|*";

const TemplateSource kPolish[] = {
    {"customer_1", "Czy coś poszło nie tak z zamówieniem?",
     R"CR(Dziękujemy, że znów robisz u nas zakupy! Wygląda na to, że zamówienie nie zostało złożone, więc zapisaliśmy Twój koszyk.

Wystąpił problem techniczny, a może zabrakło Ci odpowiedniej formy płatności? Odpowiedz na tę wiadomość, a wszystko wyjaśnimy. Chętnie dowiemy się też, co możemy uprościć.)CR",
     R"CR(<p>Dziękujemy, że znów robisz u nas zakupy! Wygląda na to, że zamówienie nie zostało złożone, więc zapisaliśmy Twój koszyk.</p>
<p>Wystąpił problem techniczny, a może zabrakło Ci odpowiedniej formy płatności? Odpowiedz na tę wiadomość, a wszystko wyjaśnimy. Chętnie dowiemy się też, co możemy uprościć.</p>)CR"},

    {"customer_2", "Czy możemy pomóc w zamówieniu?",
     R"CR(Twoje produkty wciąż czekają w koszyku. Jeśli masz pytanie o produkt, dostawę lub płatność, nasz zespół chętnie pomoże.

Odpowiedz na tę wiadomość{{#has_contact}} albo skontaktuj się z nami bezpośrednio; nasze dane kontaktowe znajdziesz poniżej{{/has_contact}}.)CR",
     R"CR(<p>Twoje produkty wciąż czekają w koszyku. Jeśli masz pytanie o produkt, dostawę lub płatność, nasz zespół chętnie pomoże.</p>
<p>Odpowiedz na tę wiadomość{{#has_contact}} albo skontaktuj się z nami bezpośrednio; nasze dane kontaktowe znajdziesz poniżej{{/has_contact}}.</p>)CR"},

    {"customer_3", "Czy możemy zapytać, co Cię powstrzymało?",
     R"CR(Zauważyliśmy, że zamówienie nie zostało dokończone, i chcielibyśmy zrozumieć dlaczego. Chodziło o cenę, dostawę, a może o coś innego?

Wystarczy kilka słów w odpowiedzi, a każda z nich pomaga nam działać lepiej. Jeśli nadal chcesz swoje produkty, Twój koszyk jest gotowy.)CR",
     R"CR(<p>Zauważyliśmy, że zamówienie nie zostało dokończone, i chcielibyśmy zrozumieć dlaczego. Chodziło o cenę, dostawę, a może o coś innego?</p>
<p>Wystarczy kilka słów w odpowiedzi, a każda z nich pomaga nam działać lepiej. Jeśli nadal chcesz swoje produkty, Twój koszyk jest gotowy.</p>)CR"},

    {"visitor_1", "Potrzebujesz pomocy z zamówieniem?",
     R"CR(Wygląda na to, że zamówienie w sklepie {{shop.name}} nie zostało dokończone. Nic nie szkodzi: zapisaliśmy Twój koszyk.

Wystąpił problem techniczny, a może zabrakło Ci odpowiedniej formy płatności? Po prostu odpowiedz, a pomożemy. A jeśli coś Cię zniechęciło, chętnie poznamy Twoją opinię.)CR",
     R"CR(<p>Wygląda na to, że zamówienie w sklepie {{shop.name}} nie zostało dokończone. Nic nie szkodzi: zapisaliśmy Twój koszyk.</p>
<p>Wystąpił problem techniczny, a może zabrakło Ci odpowiedniej formy płatności? Po prostu odpowiedz, a pomożemy. A jeśli coś Cię zniechęciło, chętnie poznamy Twoją opinię.</p>)CR"},

    {"visitor_2_unopened", "Pamiętamy o Twoim koszyku",
     R"CR(Krótko przypominamy: Twój koszyk w sklepie {{shop.name}} jest wciąż zapisany.

Dlaczego warto u nas kupować:
- Twój koszyk czeka, więc możesz dokończyć zakupy, kiedy Ci wygodnie.
- Na pytania odpowiadają prawdziwi ludzie{{#shop.contact_phone}}, mailowo lub telefonicznie{{/shop.contact_phone}}.
- Zamówienie złożysz w kilku krokach.)CR",
     R"CR(<p>Krótko przypominamy: Twój koszyk w sklepie {{shop.name}} jest wciąż zapisany.</p>
<p><strong>Dlaczego warto u nas kupować:</strong></p>
<ul>
<li>Twój koszyk czeka, więc możesz dokończyć zakupy, kiedy Ci wygodnie.</li>
<li>Na pytania odpowiadają prawdziwi ludzie{{#shop.contact_phone}}, mailowo lub telefonicznie{{/shop.contact_phone}}.</li>
<li>Zamówienie złożysz w kilku krokach.</li>
</ul>)CR"},

    {"visitor_3_unopened", "Twój koszyk nie będzie czekać wiecznie",
     R"CR(Krótkie przypomnienie: nie możemy już długo przechowywać Twojego koszyka, a popularne produkty szybko się wyprzedają.

Jeśli nadal ich chcesz, to dobry moment, żeby dokończyć zamówienie.)CR",
     R"CR(<p>Krótkie przypomnienie: nie możemy już długo przechowywać Twojego koszyka, a popularne produkty szybko się wyprzedają.</p>
<p>Jeśli nadal ich chcesz, to dobry moment, żeby dokończyć zamówienie.</p>)CR"},

    {"visitor_2_opened", "Jak zamawiać w sklepie {{shop.name}}",
     R"CR(Dziękujemy za przeczytanie naszej poprzedniej wiadomości. Jeśli zastanawiasz się, jak wygląda zamówienie u nas:

1. Wróć do koszyka przez link poniżej. Twoje produkty są zapisane.
2. Przy kasie wybierz dostawę i płatność.
3. Przygotujemy Twoje zamówienie i będziemy Cię informować e-mailem.

Masz pytania po drodze? Chętnie pomożemy.)CR",
     R"CR(<p>Dziękujemy za przeczytanie naszej poprzedniej wiadomości. Jeśli zastanawiasz się, jak wygląda zamówienie u nas:</p>
<ol>
<li>Wróć do koszyka przyciskiem poniżej. Twoje produkty są zapisane.</li>
<li>Przy kasie wybierz dostawę i płatność.</li>
<li>Przygotujemy Twoje zamówienie i będziemy Cię informować e-mailem.</li>
</ol>
<p>Masz pytania po drodze? Chętnie pomożemy.</p>)CR"},

    {"visitor_3_opened", "O co pytają nas inni klienci",
     R"CR(Jeszcze się zastanawiasz? Inni klienci dzielą się opiniami na stronach naszych produktów. Oto odpowiedzi na najczęstsze pytania:

Czy mój koszyk jest nadal zapisany?
Tak. Link poniżej zaprowadzi Cię prosto do niego.

Czy mogę zapłacić w inny sposób?
Odpowiedz na tę wiadomość, a napiszemy, jakie formy płatności oferujemy.

Mam pytanie o produkt. Kogo mogę zapytać?
Nas! Po prostu odpowiedz na tę wiadomość{{#has_contact}} albo skorzystaj z danych kontaktowych poniżej{{/has_contact}}.)CR",
     R"CR(<p>Jeszcze się zastanawiasz? Inni klienci dzielą się opiniami na stronach naszych produktów. Oto odpowiedzi na najczęstsze pytania:</p>
<p><strong>Czy mój koszyk jest nadal zapisany?</strong><br>Tak. Przycisk poniżej zaprowadzi Cię prosto do niego.</p>
<p><strong>Czy mogę zapłacić w inny sposób?</strong><br>Odpowiedz na tę wiadomość, a napiszemy, jakie formy płatności oferujemy.</p>
<p><strong>Mam pytanie o produkt. Kogo mogę zapytać?</strong><br>Nas! Po prostu odpowiedz na tę wiadomość{{#has_contact}} albo skorzystaj z danych kontaktowych poniżej{{/has_contact}}.</p>)CR"},

    {"visitor_2_clicked",
     "{{#has_coupon}}Mały bonus, jeśli zamówisz wkrótce{{/has_coupon}}"
     "{{^has_coupon}}Twój koszyk jest gotowy do zamówienia{{/has_coupon}}",
     R"CR(Było już blisko! Twój koszyk jest zapisany i gotowy do zamówienia.

{{#has_coupon}}Dokończ zamówienie wkrótce i zaoszczędź z osobistym kodem *|COUPON|*. Kod jest ważny tylko przez krótki czas.{{/has_coupon}}{{^has_coupon}}Najlepiej dokończ zamówienie wkrótce: możemy przechowywać Twój koszyk tylko przez ograniczony czas.{{/has_coupon}})CR",
     R"CR(<p>Było już blisko! Twój koszyk jest zapisany i gotowy do zamówienia.</p>
<p>{{#has_coupon}}Dokończ zamówienie wkrótce i zaoszczędź z osobistym kodem <strong>*|COUPON|*</strong>. Kod jest ważny tylko przez krótki czas.{{/has_coupon}}{{^has_coupon}}Najlepiej dokończ zamówienie wkrótce: możemy przechowywać Twój koszyk tylko przez ograniczony czas.{{/has_coupon}}</p>)CR"},

    {"visitor_3_clicked", "Masz pytania przed zamówieniem?",
     R"CR(Zamówienie było już prawie gotowe. Czy możemy na coś odpowiedzieć, zanim podejmiesz decyzję?

Po prostu odpowiedz na tę wiadomość{{#has_contact}} albo skontaktuj się z nami w dowolny sposób podany poniżej{{/has_contact}}. Chętnie pomożemy.)CR",
     R"CR(<p>Zamówienie było już prawie gotowe. Czy możemy na coś odpowiedzieć, zanim podejmiesz decyzję?</p>
<p>Po prostu odpowiedz na tę wiadomość{{#has_contact}} albo skontaktuj się z nami w dowolny sposób podany poniżej{{/has_contact}}. Chętnie pomożemy.</p>)CR"},

    {"reminder", "Twój koszyk czeka na Ciebie",
     R"CR(W Twoim koszyku w sklepie {{shop.name}} zostało kilka rzeczy. Zapisaliśmy je dla Ciebie.

Coś poszło nie tak? Jeśli przy kasie pojawił się problem albo chcesz zapłacić w inny sposób, po prostu odpowiedz na tę wiadomość, a pomożemy.)CR",
     R"CR(<p>W Twoim koszyku w sklepie {{shop.name}} zostało kilka rzeczy. Zapisaliśmy je dla Ciebie.</p>
<p>Coś poszło nie tak? Jeśli przy kasie pojawił się problem albo chcesz zapłacić w inny sposób, po prostu odpowiedz na tę wiadomość, a pomożemy.</p>)CR"},
};

}  // namespace

const LanguagePack& PolishPack() {
  static const LanguagePack kPack = {"pl", kPolishUi, kPolishShortText, kPolish,
                                     sizeof kPolish / sizeof kPolish[0]};
  return kPack;
}

}  // namespace render_internal
}  // namespace cartrecovery
