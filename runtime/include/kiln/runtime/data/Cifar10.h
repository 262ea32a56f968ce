// The CIFAR-10 loader, for the binary distribution (cifar-10-binary.tar.gz).
//
//   kiln::Dataset train = kiln::loadCifar10("data", /*train=*/true);
//   // train.images: [50000, 3, 32, 32] float32 in [-1, 1]
//   // train.labels: [50000] int64; train.classNames[0] == "plane"
#pragma once

#include "kiln/runtime/data/Dataset.h"

#include <string>

namespace kiln {

/// Loads the train split (data_batch_1.bin ... data_batch_5.bin, concatenated
/// in that order) or the test split (test_batch.bin) from `dir`, or from
/// `dir`/cifar-10-batches-bin/ where the archive unpacks them. Each 3073-byte
/// record is a label byte then 1024 red, 1024 green and 1024 blue bytes of a
/// row-major 32x32 image; pixels p become (p/255 - 0.5)/0.5 as the blitz's
/// ToTensor + Normalize((0.5,0.5,0.5), (0.5,0.5,0.5)) computes them. Class
/// names are the blitz's: plane, car, bird, ..., truck. With PixelStorage::Uint8
/// the images stay uint8 and `decoding` normalises them per batch.
///
/// Throws kiln::Error, naming the file, for a missing file, a size that is not
/// a whole number of records, or a label above 9.
Dataset loadCifar10(const std::string &dir, bool train,
                    PixelStorage storage = PixelStorage::Float32);

} // namespace kiln
