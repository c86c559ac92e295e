#include <boost/test/unit_test.hpp>
BOOST_AUTO_TEST_SUITE(flow_tests)
BOOST_AUTO_TEST_SUITE_END()
