// Program files: a compiled program saved whole — its graph as MLIR bytecode,
// its entry points, and its parameters and optimizer state — so it can be
// loaded and run without the C++ model class that built it.
//
//   kiln::saveProgram("lenet.kiln", program, {{"model", "lenet"}});
//   kiln::Program again = kiln::loadProgram("lenet.kiln"); // kiln/Compiler.h
//
// The layout is in docs/program-file.md. Reading a file checks everything
// but the graph itself (magic, format version, kiln version, section bounds
// and checksums, the weights) and needs no compiler; loadProgram then
// compiles the graph, or finds it in the program cache.
#pragma once

#include "kiln/runtime/Program.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

/// The version of the layout this kiln writes and reads.
constexpr uint32_t kProgramFileVersion = 1;

/// What a program file holds.
struct ProgramFile {
  /// "kiln_version" and whatever the saver added (e.g. "model").
  std::map<std::string, std::string> metadata;
  /// The kiln-level module as MLIR bytecode.
  std::string graph;
  /// The entry points as compiled when saved (no function pointers).
  std::vector<EntryPoint> entries;
  /// A checkpoint: parameters, "optimizer.<state>" and "optimizer.step".
  std::vector<std::pair<std::string, Tensor>> tensors;
};

/// Whether `path` starts with a program file's magic bytes.
bool isProgramFile(const std::string &path);

/// Reads and checks a program file. Throws kiln::Error naming the file and
/// what is wrong: not a program file, another format or kiln version, a
/// truncated file, a section out of bounds or failing its checksum.
ProgramFile readProgramFile(const std::string &path);

/// Writes `file`, atomically (a temporary file renamed over `path`).
void writeProgramFile(const std::string &path, const ProgramFile &file);

/// Writes `program` — compiled by kiln::compile, compileFunction or
/// compileTrainStep, or loaded by loadProgram — with its parameters,
/// optimizer state and step count. `metadata` is stored beside
/// "kiln_version". Throws kiln::Error for a program without a graph (an AOT
/// bundle or a C API model).
void saveProgram(const std::string &path, const Program &program,
                 const std::map<std::string, std::string> &metadata = {});

} // namespace kiln
