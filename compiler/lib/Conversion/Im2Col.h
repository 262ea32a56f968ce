// The unfolded-image (im2col) helpers that the convolution lowerings share.
#ifndef KILN_CONVERSION_IM2COL_H
#define KILN_CONVERSION_IM2COL_H

#include "LoopEmitter.h"

namespace kiln {

/// Images a filter gradient unfolds at once: a few hundred KiB of columns
/// for LeNet's layers, well inside L2.
inline constexpr int64_t kFilterGradientGroup = 8;

/// A convolution's sizes: batch, channels, input height and width, filters,
/// kernel height and width, output height and width, stride and padding.
struct ConvDims {
  int64_t n, c, h, w, f, kh, kw, oh, ow, stride, pad;
};

ConvDims dimsOf(mlir::Value input, mlir::Value weight, int64_t stride,
                int64_t pad);

/// A row-major view of a contiguous buffer with another shape, such as an
/// NCHW buffer as [N, C, H*W] or weights as [F, C*KH*KW].
mlir::Value view(LoopEmitter &e, mlir::Value memref,
                 llvm::ArrayRef<int64_t> shape);

/// Copies image `n` of `x` into `col`: col[(c, i, j), (oh, ow)] is the input
/// pixel that kernel tap (i, j) of channel c sees at output (oh, ow), or 0 in
/// the padding.
void unfold(LoopEmitter &e, const ConvDims &d, mlir::Value x, mlir::Value n,
            mlir::Value col);

/// Writes image `n` of `dx` from `col`: the transpose of unfold, each pixel
/// the sum of the column entries that came from it.
void fold(LoopEmitter &e, const ConvDims &d, mlir::Value col, mlir::Value n,
          mlir::Value dx);

} // namespace kiln

#endif // KILN_CONVERSION_IM2COL_H
