// Reading PyTorch state_dicts saved by torch.save, without Python.
//
//   // In Python: torch.save(model.state_dict(), "lenet.pt")
//   for (auto &[name, tensor] : kiln::readTorchStateDict("lenet.pt"))
//     std::cout << name << " " << kiln::shapeToString(tensor.shape()) << "\n";
//   // conv1.weight [6, 1, 5, 5]
//   // conv1.bias [6] ...
//
// A .pt file is a zip archive: `<name>/data.pkl` pickles the state_dict (an
// OrderedDict of tensors rebuilt by torch._utils._rebuild_tensor_v2), each
// tensor's storage is the raw little-endian entry `<name>/data/<key>`.
// Unpickling is restricted: only the globals a state_dict of float32,
// float64 or int64 tensors uses are recognised, and no Python code is run,
// so a hostile file can do no more than be refused.
#pragma once

#include "kiln/runtime/Tensor.h"

#include <string>
#include <utility>
#include <vector>

namespace kiln {

/// The tensors of the state_dict in `path`, in the state_dict's order, each a
/// contiguous copy (views with offsets and strides are copied out). Throws
/// kiln::Error naming the file and the problem when it is missing,
/// truncated, corrupt, holds anything but a dict of float32 / float64 /
/// int64 tensors (e.g. a whole pickled module, or a global such as
/// os.system), or refers to a storage the archive does not have.
std::vector<std::pair<std::string, Tensor>>
readTorchStateDict(const std::string &path);

} // namespace kiln
