// State dicts and training checkpoints in the safetensors format.
//
//   kiln::saveStateDict("lenet.safetensors", model.namedParameters());
//   kiln::loadStateDict("lenet.safetensors", model.namedParameters());
//
//   kiln::saveCheckpoint("run.ckpt", program, {{"lr", "0.01"}});
//   kiln::loadCheckpoint("run.ckpt", program);  // training resumes exactly
//
// Tensor names are PyTorch's ("conv1.weight", ...), so the parameters of a
// checkpoint load with safetensors.torch.load_file into the blitz's Net. A
// checkpoint adds the optimizer: "optimizer.<state name>" for each state
// tensor (e.g. "optimizer.momentum_buffer.conv1.weight") and "optimizer.step",
// a 0-d int64, with hyper-parameters and "kiln_version" in "__metadata__".
#pragma once

#include "kiln/runtime/Program.h"
#include "kiln/runtime/Tensor.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

/// Writes `params` under their names, atomically (a temporary file renamed
/// over `path`).
void saveStateDict(const std::string &path,
                   const std::vector<std::pair<std::string, Tensor>> &params,
                   const std::map<std::string, std::string> &metadata = {});

/// Copies each tensor of the file into the destination of the same name, in
/// place, so tensors shared with a Program see the new values. Throws
/// kiln::Error naming the tensor, and changes nothing, when the file lacks a
/// destination, has a tensor no destination has, or a shape or dtype differs.
void loadStateDict(const std::string &path,
                   const std::vector<std::pair<std::string, Tensor>> &params);

/// Loads parameters from a state dict or checkpoint in safetensors (ignoring
/// a checkpoint's optimizer state), a kiln program file (ProgramFile.h), or
/// a PyTorch state_dict saved with torch.save (a .pt zip archive); refuses
/// the same mismatches as loadStateDict.
void loadParameters(const std::string &path,
                    const std::vector<std::pair<std::string, Tensor>> &params);

/// Writes the program's parameters, optimizer state and step count, with
/// `hyperParameters` (and "kiln_version") as the file's metadata.
void saveCheckpoint(const std::string &path, const Program &program,
                    const std::map<std::string, std::string> &hyperParameters);

/// Restores what saveCheckpoint wrote, refusing mismatches as loadStateDict
/// does. The program must have been compiled for the same model and
/// optimizer; the hyper-parameters are compiled in, so they are not read.
/// On a program attached to a GPU, the values are copied there too.
void loadCheckpoint(const std::string &path, Program &program);

/// Throws kiln::Error unless `version`, the "kiln_version" a file at `path`
/// records, is one whose files this kiln reads: the same major and minor
/// version (before 1.0, files stay compatible across patch releases only).
/// Every loader here checks it when a file records one.
void checkFileVersion(const std::string &path, const std::string &version);

/// What saveCheckpoint writes: the parameters, "optimizer.<state>" for each
/// state tensor, and "optimizer.step" (a copy of the step count).
std::vector<std::pair<std::string, Tensor>>
checkpointTensors(const Program &program);

/// loadCheckpoint and loadParameters for tensors already read, e.g. from a
/// program file's weights; `source` names them in messages.
void restoreCheckpoint(const std::string &source,
                       const std::vector<std::pair<std::string, Tensor>> &file,
                       Program &program);
void restoreParameters(
    const std::string &source,
    const std::vector<std::pair<std::string, Tensor>> &file,
    const std::vector<std::pair<std::string, Tensor>> &params);

} // namespace kiln
