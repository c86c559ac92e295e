// The one Boost.Test runner; every <module>_tests.cpp adds a suite to it.
#define BOOST_TEST_MODULE cartrecovery_core
#include <boost/test/unit_test.hpp>
