// A train step allocates nothing: every operator new in this binary is
// counted, and 100 steps between the markers must add zero.
#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>

namespace {
std::atomic<bool> counting{false};
std::atomic<int64_t> allocations{0};

void *allocate(std::size_t size, std::size_t alignment) {
  if (counting.load(std::memory_order_relaxed))
    allocations.fetch_add(1, std::memory_order_relaxed);
  if (size == 0)
    size = 1;
  void *p = alignment > alignof(std::max_align_t)
                ? std::aligned_alloc(alignment, (size + alignment - 1) /
                                                    alignment * alignment)
                : std::malloc(size);
  if (!p)
    throw std::bad_alloc();
  return p;
}
} // namespace

void *operator new(std::size_t size) { return allocate(size, 0); }
void *operator new[](std::size_t size) { return allocate(size, 0); }
void *operator new(std::size_t size, std::align_val_t a) {
  return allocate(size, static_cast<std::size_t>(a));
}
void *operator new[](std::size_t size, std::align_val_t a) {
  return allocate(size, static_cast<std::size_t>(a));
}
// The nothrow forms too (Catch2 uses them), or their memory would come from
// the default operator new and reach std::free: AddressSanitizer's
// alloc-dealloc-mismatch at exit in a -DKILN_SANITIZE build.
void *operator new(std::size_t size, const std::nothrow_t &) noexcept {
  try {
    return allocate(size, 0);
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
}
void *operator new[](std::size_t size, const std::nothrow_t &) noexcept {
  try {
    return allocate(size, 0);
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }
void operator delete(void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void *p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void *p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

using namespace kiln;

TEST_CASE("trainStep allocates nothing over 100 steps") {
  manualSeed(0);
  models::LeNet model;
  CompileSpec spec;
  spec.inputShape = {8, 1, 32, 32};
  spec.sgd.lr = 0.01;
  spec.sgd.momentum = 0.9;
  Program program = compile(model, spec);
  Generator gen(7);
  Tensor images = normalTensor({8, 1, 32, 32}, gen);
  Tensor labels = uniformTensor({8}, 0, 10, gen, DType::I64);
  program.trainStep(images, labels); // binds buffers once

  double total = 0;
  allocations = 0;
  counting = true;
  for (int step = 0; step < 100; ++step)
    total += program.trainStep(images, labels);
  counting = false;
  CHECK(std::isfinite(total));
  REQUIRE(allocations.load() == 0);
}
