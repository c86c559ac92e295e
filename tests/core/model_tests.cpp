#include <boost/test/unit_test.hpp>

#include "cartrecovery/model.h"
#include "cartrecovery/status.h"

using namespace cartrecovery;

BOOST_AUTO_TEST_SUITE(model_tests)

BOOST_AUTO_TEST_CASE(parses_amounts_exactly_in_minor_units) {
  BOOST_TEST(ParseMinorUnits("19.90", 2, "price") == 1990);
  BOOST_TEST(ParseMinorUnits("19.9", 2, "price") == 1990);
  BOOST_TEST(ParseMinorUnits("0.1", 2, "price") == 10);
  BOOST_TEST(ParseMinorUnits("500", 0, "price") == 500);
  BOOST_TEST(ParseMinorUnits("1.234", 3, "price") == 1234);
  BOOST_TEST(ParseMinorUnits("-3", 2, "price") == -300);
  BOOST_TEST(ParseMinorUnits("2.500", 2, "price") == 250);  // trailing zeros are harmless
}

BOOST_AUTO_TEST_CASE(refuses_what_is_not_an_exact_amount) {
  for (const char* bad : {"", ".", "1e3", "19.999", "abc", "1.2.3", " 1", "99999999999999999999"}) {
    try {
      ParseMinorUnits(bad, 2, "items[0].price");
      BOOST_FAIL("accepted '" << bad << "'");
    } catch (const Error& e) {
      BOOST_TEST((e.code() == ErrorCode::kInvalidArgument));
      BOOST_TEST(e.field() == "items[0].price");
    }
  }
}

BOOST_AUTO_TEST_CASE(formats_minor_units) {
  BOOST_TEST(FormatMinorUnits(1990, 2) == "19.90");
  BOOST_TEST(FormatMinorUnits(5, 2) == "0.05");
  BOOST_TEST(FormatMinorUnits(-5, 2) == "-0.05");
  BOOST_TEST(FormatMinorUnits(500, 0) == "500");
  BOOST_TEST(CurrencyExponent("JPY") == 0);
  BOOST_TEST(CurrencyExponent("KWD") == 3);
  BOOST_TEST(CurrencyExponent("EUR") == 2);
}

BOOST_AUTO_TEST_SUITE_END()
