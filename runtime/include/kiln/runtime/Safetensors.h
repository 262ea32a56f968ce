// Safetensors checkpoints: the tensor file format PyTorch and HF share.
//
//   kiln::writeSafetensors("lenet.safetensors", {{"conv1.weight", w}},
//                          {{"epoch", "2"}});
//   for (auto &[name, tensor] : kiln::readSafetensors("lenet.safetensors"))
//     ...
//
// Layout: 8-byte little-endian header length, a JSON header mapping each name
// to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// end of the header), an optional "__metadata__" string map, then the data.
#pragma once

#include "kiln/runtime/Tensor.h"

#include <iosfwd>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

/// Reads every tensor (F32, F64 or I64), in the order of their data in the
/// file. Throws kiln::Error, naming the file and the tensor, for a truncated
/// file, a header over 100 MB, unknown dtypes, or offsets that are out of
/// range, overlapping, gapped or disagree with the shape.
std::vector<std::pair<std::string, Tensor>>
readSafetensors(const std::string &path);

/// The "__metadata__" map of a safetensors file (empty when absent).
std::map<std::string, std::string>
readSafetensorsMetadata(const std::string &path);

/// Writes `tensors` in the given order, atomically (see writeFileAtomically).
/// Names must be unique and non-empty, and "__metadata__" is reserved.
void writeSafetensors(
    const std::string &path,
    const std::vector<std::pair<std::string, Tensor>> &tensors,
    const std::map<std::string, std::string> &metadata = {});

/// The same, for safetensors bytes inside another file (a program file's
/// weights section): `in` holds exactly those bytes, and `name` stands for
/// the path in messages.
std::vector<std::pair<std::string, Tensor>>
readSafetensors(std::istream &in, const std::string &name);
void writeSafetensors(
    std::ostream &out,
    const std::vector<std::pair<std::string, Tensor>> &tensors,
    const std::map<std::string, std::string> &metadata,
    const std::string &name);

} // namespace kiln
