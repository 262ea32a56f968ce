// Catch2 entry point for the CUDA backend's tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
