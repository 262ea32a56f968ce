// Program files: a program saved whole loads without its model class, from
// the program cache, and computes and trains exactly as the original.
#include "kiln/runtime/ProgramFile.h"
#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Random.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

using namespace kiln;
using Catch::Matchers::Contains;

namespace {

namespace fs = std::filesystem;

/// A fresh folder for this test's files, removed at scope exit.
struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string &name)
      : dir(fs::temp_directory_path() /
            ("kiln_program_file_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  std::string file(const std::string &name) const {
    return (dir / name).string();
  }
};

/// Points the program cache at `dir` for the test's lifetime.
struct CacheDir {
  std::string old;
  bool had;
  explicit CacheDir(const std::string &dir) {
    const char *value = std::getenv("KILN_CACHE_DIR");
    had = value != nullptr;
    old = had ? value : "";
    ::setenv("KILN_CACHE_DIR", dir.c_str(), 1);
  }
  ~CacheDir() {
    if (had)
      ::setenv("KILN_CACHE_DIR", old.c_str(), 1);
    else
      ::unsetenv("KILN_CACHE_DIR");
  }
};

bool sameBits(const Tensor &a, const Tensor &b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.contiguous().rawData(), b.contiguous().rawData(),
                     a.nbytes()) == 0;
}

size_t filesIn(const fs::path &dir) {
  size_t count = 0;
  for ([[maybe_unused]] const auto &entry : fs::directory_iterator(dir))
    ++count;
  return count;
}

CompileSpec lenetSpec() {
  CompileSpec spec;
  spec.inputShape = {4, 1, 32, 32};
  spec.sgd.lr = 0.01;
  spec.sgd.momentum = 0.9;
  spec.predictBatch = 4;
  spec.evalBatch = 4;
  return spec;
}

} // namespace

TEST_CASE("a saved program loads without its model class and computes and "
          "trains exactly as the original") {
  Scratch scratch("roundtrip");
  CacheDir cache(scratch.file("cache"));
  manualSeed(3);
  Generator gen(4);
  Tensor images = normalTensor({4, 1, 32, 32}, gen);
  Tensor labels = Tensor::empty({4}, DType::I64);
  for (int64_t i = 0; i < 4; ++i)
    labels.data<int64_t>()[i] = (3 * i + 1) % 10;

  Program original = [&] {
    // The model class goes away before the program is saved or loaded.
    models::LeNet model;
    return compile(model, lenetSpec());
  }();
  for (int step = 0; step < 2; ++step)
    original.trainStep(images, labels);
  const std::string path = scratch.file("lenet.kiln");
  saveProgram(path, original, {{"model", "lenet"}});
  const size_t cached = filesIn(scratch.file("cache"));
  const double savedLoss = original.evalStep(images, labels).loss;

  Program loaded = loadProgram(path);
  // Same graph, same CPU, same kiln: the cache's object file, nothing new.
  CHECK(filesIn(scratch.file("cache")) == cached);
  CHECK(loaded.entryNames() == original.entryNames());
  CHECK(loaded.stepsTaken() == 2);
  REQUIRE(loaded.namedParameters().size() == original.namedParameters().size());
  for (size_t i = 0; i < original.namedParameters().size(); ++i) {
    INFO(original.namedParameters()[i].first);
    CHECK(loaded.namedParameters()[i].first ==
          original.namedParameters()[i].first);
    CHECK(sameBits(loaded.namedParameters()[i].second,
                   original.namedParameters()[i].second));
  }
  REQUIRE(loaded.namedState().size() == original.namedState().size());
  for (size_t i = 0; i < original.namedState().size(); ++i)
    CHECK(sameBits(loaded.namedState()[i].second,
                   original.namedState()[i].second));

  // The same object code over the same bytes: bit-identical results.
  CHECK(sameBits(loaded.predict(images), original.predict(images)));
  CHECK(loaded.evalStep(images, labels).loss ==
        original.evalStep(images, labels).loss);
  // The momentum buffers and step count came along: the next update agrees.
  CHECK(loaded.trainStep(images, labels) == original.trainStep(images, labels));
  CHECK(sameBits(loaded.predict(images), original.predict(images)));

  // A loaded program saves again, to the same bytes but for the step count.
  const std::string again = scratch.file("again.kiln");
  saveProgram(again, loaded, {{"model", "lenet"}});
  Program reloaded = loadProgram(again);
  CHECK(reloaded.stepsTaken() == 3);
  CHECK(sameBits(reloaded.predict(images), loaded.predict(images)));

  // Without the cache the graph is compiled afresh, to the same code.
  ::setenv("KILN_CACHE_DIR", "off", 1);
  Program recompiled = loadProgram(path);
  CHECK(recompiled.stepsTaken() == 2);
  CHECK(recompiled.evalStep(images, labels).loss == savedLoss);
}

TEST_CASE("saveProgram writes whole files or none") {
  Scratch scratch("atomic");
  models::LeNet model;
  CompileSpec spec = lenetSpec();
  spec.train = false;
  spec.evalBatch = 0;
  Program program = compile(model, spec);
  const std::string path = scratch.file("lenet.kiln");
  saveProgram(path, program);
  const auto size = fs::file_size(path);

  // A program with no graph (as an AOT bundle has none) is refused before
  // anything is written; the file already there stays as it was.
  Program bare(std::vector<EntryPoint>{}, {}, nullptr);
  REQUIRE_THROWS_WITH(saveProgram(path, bare),
                      Contains("this program has no graph to save"));
  CHECK(fs::file_size(path) == size);
  REQUIRE_THROWS_WITH(saveProgram(scratch.file("no/such/dir/x.kiln"), program),
                      Contains("cannot create"));
  CHECK(filesIn(scratch.dir) == 1);
  CHECK(loadProgram(path).entryNames() == std::vector<std::string>{"predict"});
}
