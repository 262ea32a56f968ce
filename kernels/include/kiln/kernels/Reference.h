// Reference kernels: plain, obviously-correct loops with PyTorch semantics.
//
// They are the oracle every compiled kernel is tested against and the eager
// path of the tensor API, so clarity wins over speed; loop orders only avoid
// being pathological (the innermost loop walks contiguous memory where it can).
//
// Conventions shared by every kernel in kiln::ref:
//  - templates on the element type T, used with float and double;
//  - T is deduced from the tensor arguments only: nullable pointers (bias, the
//    momentum buffer) and scalars take no part, so nullptr and 0.1 just work;
//  - raw pointers plus explicit int64_t shapes, contiguous tensors, NCHW;
//  - outputs are caller-provided and overwritten, never accumulated into;
//  - nothing is allocated except the small index vectors of the shape-generic
//    kernels (broadcastTo, transpose, reductions);
//  - shapes are the caller's responsibility: a bad shape is a programmer
//    mistake and trips an assert. The one input a user can get wrong at run
//    time, a class label, is checked and reported with std::out_of_range.
//
// A tiny complete example, a 1x1x4x4 image through conv -> relu -> pool:
//
//   #include <kiln/kernels/Reference.h>
//   float x[16] = {...}, w[9] = {...}, b[1] = {0.5f};
//   int64_t oh = kiln::ref::convOutSize(4, 3, 1, 1);            // 4
//   float conv[16], act[16], pooled[4];
//   kiln::ref::conv2d(x, w, b, conv, 1, 1, 4, 4, 1, 3, 3, 1, 1);
//   kiln::ref::relu(conv, act, 16);
//   kiln::ref::maxPool2d(act, pooled, 1, 1, oh, oh, 2, 2);       // 1x1x2x2
#pragma once

#include "kiln/kernels/Conv.h"
#include "kiln/kernels/Elementwise.h"
#include "kiln/kernels/Linalg.h"
#include "kiln/kernels/Loss.h"
#include "kiln/kernels/Optim.h"
#include "kiln/kernels/Pool.h"
#include "kiln/kernels/Reduce.h"
