// sgdStep: three steps of each SGD variant against numbers worked out by hand
// from PyTorch's update rule.
#include "kiln/kernels/Optim.h"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <limits>

namespace {
struct SgdConfig {
  double momentum, dampening, weightDecay;
  bool nesterov;
};

/// Runs three steps from param = 1 with grad = 1 every step and lr = 0.1,
/// returning the parameter after each step.
std::array<double, 3> threeSteps(const SgdConfig &cfg) {
  double param = 1, buf = std::numeric_limits<double>::quiet_NaN();
  const double grad = 1;
  std::array<double, 3> after{};
  for (int step = 0; step < 3; ++step) {
    kiln::ref::sgdStep(&param, &grad, &buf, 1, 0.1, cfg.momentum, cfg.dampening,
                       cfg.weightDecay, cfg.nesterov, step == 0);
    after[step] = param;
  }
  return after;
}

void checkSteps(const std::array<double, 3> &got,
                const std::array<double, 3> &expected) {
  for (int i = 0; i < 3; ++i) {
    INFO("after step " << i + 1);
    CHECK(got[i] == Approx(expected[i]).margin(1e-12));
  }
}
} // namespace

TEST_CASE("sgdStep without momentum is p -= lr g", "[optim]") {
  double param[2] = {1, -2};
  const double grads[3][2] = {{0.5, 1}, {-1, 0.25}, {2, -0.5}};
  const double expected[3][2] = {{0.95, -2.1}, {1.05, -2.125}, {0.85, -2.075}};
  for (int step = 0; step < 3; ++step) {
    kiln::ref::sgdStep(param, grads[step], nullptr, 2, 0.1, 0.0, 0.0, 0.0,
                       false, step == 0);
    CHECK(param[0] == Approx(expected[step][0]).margin(1e-12));
    CHECK(param[1] == Approx(expected[step][1]).margin(1e-12));
  }
}

TEST_CASE("sgdStep with momentum 0.9", "[optim]") {
  // buf: 1, 0.9*1 + 1 = 1.9, 0.9*1.9 + 1 = 2.71; p -= 0.1*buf.
  checkSteps(threeSteps({0.9, 0, 0, false}), {0.9, 0.71, 0.439});
}

TEST_CASE("sgdStep with Nesterov momentum", "[optim]") {
  // buf as above; g = 1 + 0.9*buf = 1.9, 2.71, 3.439.
  checkSteps(threeSteps({0.9, 0, 0, true}), {0.81, 0.539, 0.1951});
}

TEST_CASE("sgdStep with dampening skips it on the first step", "[optim]") {
  // buf: 1 (first step copies g), 0.9 + 0.5*1 = 1.4, 1.26 + 0.5 = 1.76.
  checkSteps(threeSteps({0.9, 0.5, 0, false}), {0.9, 0.76, 0.584});
}

TEST_CASE("sgdStep with weight decay and momentum", "[optim]") {
  // g = 1 + 0.1*p:  1.1            -> buf 1.1               -> p 0.89
  //                 1.089          -> buf 0.99 + 1.089 = 2.079     -> p 0.6821
  //                 1.06821        -> buf 1.8711 + 1.06821 = 2.93931 -> p
  //                 0.388169
  checkSteps(threeSteps({0.9, 0, 0.1, false}), {0.89, 0.6821, 0.388169});
}

TEST_CASE("sgdStep with weight decay and dampening and Nesterov together",
          "[optim]") {
  // g = 1 + 0.1p; buf = first ? g : 0.9 buf + 0.5 g; step = g + 0.9 buf.
  //   1: g 1.1,            buf 1.1,                    step 2.09       -> p
  //   0.791 2: g 1.0791,         buf 0.99 + 0.53955 = 1.52955, step 2.455695 ->
  //   p 0.5454305 3: g 1.05454305,     buf 1.376595 + 0.527271525
  //   = 1.903866525,
  //      step 1.05454305 + 1.7134798725 = 2.7680229225             -> p
  //      0.26862820775
  checkSteps(threeSteps({0.9, 0.5, 0.1, true}),
             {0.791, 0.5454305, 0.26862820775});
}

TEST_CASE("sgdStep works in float", "[optim]") {
  float param = 1, buf = 0;
  const float grad = 1;
  kiln::ref::sgdStep(&param, &grad, &buf, 1, 0.1, 0.9, 0.0, 0.0, false, true);
  kiln::ref::sgdStep(&param, &grad, &buf, 1, 0.1f, 0.9f, 0.0f, 0.0f, false,
                     false);
  CHECK(buf == Approx(1.9f));
  CHECK(param == Approx(0.71f));
}
