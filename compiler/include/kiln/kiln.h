// kiln: one header for programs that build, train and run small CNNs.
//
//   #include <kiln/kiln.h>
//
//   struct Net : kiln::nn::Module {
//     kiln::nn::Linear &fc;
//     Net() : Module("Net"), fc(registerModule<kiln::nn::Linear>("fc", 4, 3)) {}
//     kiln::Var forward(kiln::Var x) override { return fc(kiln::flatten(x, 1)); }
//   };
//
//   int main() {
//     kiln::manualSeed(0);
//     Net net;
//     kiln::CompileSpec spec;
//     spec.inputShape = {8, 4, 1, 1}; // batch 8 of 4 features
//     spec.sgd.lr = 0.1;
//     spec.predictBatch = 8;
//     kiln::Program program = kiln::compile(net, spec);
//     double loss = program.trainStep(images, labels); // [8,4,1,1], [8] int64
//     const kiln::Tensor &logits = program.predict(images);
//   }
//
// A model is ordinary C++ over symbolic values (kiln::Var); kiln::compile
// traces it, derives the backward pass and the optimizer step, and
// JIT-compiles a kiln::Program whose trainStep() and predict() take
// kiln::Tensor batches. examples/kiln_h.cpp is this example in full and
// docs/blitz.md walks through the rest. No MLIR or LLVM type appears in any
// header this one includes.
#ifndef KILN_KILN_H
#define KILN_KILN_H

#include "kiln/Autograd.h"
#include "kiln/Compiler.h"
#include "kiln/Inspect.h"
#include "kiln/nn/Graph.h"
#include "kiln/nn/Module.h"
#include "kiln/runtime/Checkpoint.h"
#include "kiln/runtime/Device.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Metrics.h"
#include "kiln/runtime/Npy.h"
#include "kiln/runtime/Ops.h"
#include "kiln/runtime/Program.h"
#include "kiln/runtime/ProgramFile.h"
#include "kiln/runtime/Random.h"
#include "kiln/runtime/Tensor.h"
#include "kiln/runtime/data/BatchLoader.h"
#include "kiln/runtime/data/Cifar10.h"
#include "kiln/runtime/data/Dataset.h"

#endif // KILN_KILN_H
