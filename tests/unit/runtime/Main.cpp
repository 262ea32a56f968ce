// Catch2's main() for runtime_tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
