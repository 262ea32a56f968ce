// The C API of kiln_runtime.h on top of kiln::Program: every C++ exception is
// caught here and becomes a status and a message.
#include "kiln/kiln_runtime.h"

#include "kiln/runtime/Checkpoint.h"
#include "kiln/runtime/Program.h"
#include "kiln/runtime/cuda/Bundle.h"
#include "kiln/runtime/data/Dataset.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <set>

struct kiln_model {
  std::unique_ptr<kiln::Program> program;
  /// Set by failures of calls that take a const model, too.
  mutable std::string error;
  mutable std::string device; ///< what kiln_model_device last returned
};

struct kiln_dataset {
  kiln::Dataset data;
};

namespace {

thread_local std::string lastError;

/// A failure this file detects itself, with the status it reports.
struct ApiError : kiln::Error {
  ApiError(kiln_status status, const std::string &message)
      : kiln::Error(message), status(status) {}
  kiln_status status;
};

kiln_status fail(const kiln_model *model, kiln_status status,
                 const std::string &message) {
  lastError = message;
  if (model)
    model->error = message;
  return status;
}

/// Runs `body`, turning exceptions into statuses: kiln::Error (which a user
/// caused) into `userStatus`, anything else into a memory or internal error.
template <typename Body>
kiln_status guard(const kiln_model *model, kiln_status userStatus,
                  Body &&body) {
  try {
    body();
    return KILN_OK;
  } catch (const ApiError &e) {
    return fail(model, e.status, e.what());
  } catch (const kiln::Error &e) {
    return fail(model, userStatus, e.what());
  } catch (const std::bad_alloc &) {
    return fail(model, KILN_ERROR_MEMORY, "out of memory");
  } catch (const std::exception &e) {
    return fail(model, KILN_ERROR_INTERNAL,
                std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(model, KILN_ERROR_INTERNAL, "internal error");
  }
}

void require(bool condition, const std::string &message) {
  if (!condition)
    throw ApiError(KILN_ERROR_ARGUMENT, message);
}

/// The entry's arguments of one role, in call order.
std::vector<const kiln::ArgSpec *> argsOf(const kiln::EntryPoint &entry,
                                          kiln::ArgRole role) {
  std::vector<const kiln::ArgSpec *> args;
  for (const kiln::ArgSpec &arg : entry.args) {
    if (arg.role == role)
      args.push_back(&arg);
  }
  return args;
}

const kiln::EntryPoint *findEntry(const kiln_model *model,
                                  const std::string &name) {
  if (!model || !model->program->hasEntry(name))
    return nullptr;
  return &model->program->entry(name);
}

/// The entry, or an argument error saying which compile option adds it.
const kiln::EntryPoint &requireEntry(const kiln_model *model,
                                     const std::string &name,
                                     const char *option) {
  const kiln::EntryPoint *entry = findEntry(model, name);
  require(entry != nullptr,
          "this model has no '" + name + "' entry; compile it with " + option);
  return *entry;
}

/// A tensor over caller memory: the runtime reads inputs in place.
kiln::Tensor wrap(const void *data, const kiln::ArgSpec &spec) {
  return kiln::Tensor::fromBlob(const_cast<void *>(data), spec.shape,
                                spec.dtype);
}

void checkReadable(const std::string &path) {
  std::FILE *file = std::fopen(path.c_str(), "rb");
  if (!file)
    throw ApiError(KILN_ERROR_FILE,
                   path + ": cannot open: " + std::strerror(errno));
  std::fclose(file);
}

/// A model over compiled entry points with fresh, zeroed parameters: what
/// kiln_model_create and kiln_model_create_cuda share.
std::unique_ptr<kiln_model> createModel(const char *entries,
                                        const char *const *entry_names,
                                        const kiln_entry_fn *functions,
                                        int count, const char *caller) {
  const std::string who(caller);
  require(entries != nullptr, who + ": entries is NULL");
  require(count > 0 && entry_names && functions,
          who + ": needs at least one entry name and function");
  std::vector<kiln::EntryPoint> parsed = kiln::parseEntryPoints(entries);
  std::set<std::string> given;
  for (int i = 0; i < count; ++i) {
    require(entry_names[i] && functions[i], who + ": entry " +
                                                std::to_string(i) +
                                                " has a NULL name or function");
    given.insert(entry_names[i]);
    auto described = std::find_if(
        parsed.begin(), parsed.end(),
        [&](const kiln::EntryPoint &e) { return e.name == entry_names[i]; });
    require(described != parsed.end(),
            who + ": unknown entry '" + entry_names[i] +
                "': the description has no such entry");
    described->function = functions[i];
  }
  std::vector<std::pair<std::string, kiln::Tensor>> params;
  std::set<std::string> seen;
  for (const kiln::EntryPoint &entry : parsed) {
    require(given.count(entry.name),
            who + ": no function given for entry '" + entry.name + "'");
    for (const kiln::ArgSpec *arg : argsOf(entry, kiln::ArgRole::Param)) {
      if (seen.insert(arg->name).second)
        params.emplace_back(arg->name,
                            kiln::Tensor::zeros(arg->shape, arg->dtype));
    }
  }
  auto model = std::make_unique<kiln_model>();
  model->program = std::make_unique<kiln::Program>(std::move(parsed),
                                                   std::move(params), nullptr);
  return model;
}

/// The parameter called `name`, or an argument error listing them.
const kiln::Tensor &parameterNamed(const kiln_model *model, const char *name,
                                   const char *caller) {
  require(model != nullptr, std::string(caller) + ": model is NULL");
  require(name != nullptr, std::string(caller) + ": name is NULL");
  std::string names;
  for (const auto &[key, tensor] : model->program->namedParameters()) {
    if (key == name)
      return tensor;
    names += (names.empty() ? "" : ", ") + key;
  }
  throw ApiError(KILN_ERROR_ARGUMENT, std::string(caller) +
                                          ": this model has no parameter '" +
                                          name + "' (it has: " + names + ")");
}

/// The float32 images and int64 labels train_step takes.
std::pair<const kiln::ArgSpec *, const kiln::ArgSpec *>
trainInputs(const kiln_model *model) {
  const kiln::EntryPoint &entry =
      requireEntry(model, "train_step", "kiln compile --aot --train");
  auto inputs = argsOf(entry, kiln::ArgRole::Input);
  if (inputs.size() != 2 || inputs[0]->dtype != kiln::DType::F32 ||
      inputs[1]->dtype != kiln::DType::I64)
    throw ApiError(KILN_ERROR_INTERNAL,
                   "the 'train_step' entry does not take float32 images "
                   "and int64 labels");
  return {inputs[0], inputs[1]};
}

} // namespace

extern "C" {

kiln_status kiln_model_create(const char *entries,
                              const char *const *entry_names,
                              const kiln_entry_fn *functions, int count,
                              kiln_model **out) {
  return guard(nullptr, KILN_ERROR_ARGUMENT, [&] {
    require(out != nullptr, "kiln_model_create: out is NULL");
    *out = nullptr;
    *out =
        createModel(entries, entry_names, functions, count, "kiln_model_create")
            .release();
  });
}

kiln_status kiln_model_create_cuda(const char *entries,
                                   const char *const *entry_names,
                                   const kiln_entry_fn *functions, int count,
                                   const unsigned char *cuda_bundle,
                                   int64_t cuda_bundle_size, int device,
                                   kiln_model **out) {
  return guard(nullptr, KILN_ERROR_DEVICE, [&] {
    require(out != nullptr, "kiln_model_create_cuda: out is NULL");
    *out = nullptr;
    require(cuda_bundle != nullptr && cuda_bundle_size > 0,
            "kiln_model_create_cuda: the CUDA bundle is NULL or empty");
    require(device >= 0, "kiln_model_create_cuda: device must be 0 or more, "
                         "got " +
                             std::to_string(device));
    std::unique_ptr<kiln_model> model = createModel(
        entries, entry_names, functions, count, "kiln_model_create_cuda");
    kiln::cuda::CudaBundle bundle;
    try {
      bundle = kiln::cuda::parseCudaBundle(
          std::string(reinterpret_cast<const char *>(cuda_bundle),
                      static_cast<size_t>(cuda_bundle_size)));
    } catch (const kiln::Error &e) {
      throw ApiError(KILN_ERROR_ARGUMENT, e.what());
    }
    kiln::cuda::attachCudaBundle(*model->program, bundle, device);
    *out = model.release();
  });
}

kiln_status kiln_model_load_weights(kiln_model *model,
                                    const char *safetensors_path) {
  return guard(model, KILN_ERROR_WEIGHTS, [&] {
    require(model != nullptr, "kiln_model_load_weights: model is NULL");
    require(safetensors_path != nullptr,
            "kiln_model_load_weights: path is NULL");
    checkReadable(safetensors_path);
    kiln::loadParameters(safetensors_path, model->program->namedParameters());
    model->program->pushToDevice();
  });
}

kiln_status kiln_model_save_weights(const kiln_model *model, const char *path) {
  return guard(model, KILN_ERROR_FILE, [&] {
    require(model != nullptr, "kiln_model_save_weights: model is NULL");
    require(path != nullptr, "kiln_model_save_weights: path is NULL");
    kiln::saveStateDict(path, model->program->namedParameters(),
                        {{"kiln_version", KILN_VERSION}});
  });
}

kiln_status kiln_model_predict(kiln_model *model, const float *images,
                               float *logits) {
  return guard(model, KILN_ERROR_ARGUMENT, [&] {
    require(model != nullptr, "kiln_model_predict: model is NULL");
    require(images && logits, "kiln_model_predict: images or logits is NULL");
    const kiln::EntryPoint &entry =
        requireEntry(model, "predict", "kiln compile --aot");
    auto inputs = argsOf(entry, kiln::ArgRole::Input);
    if (inputs.size() != 1 || inputs[0]->dtype != kiln::DType::F32)
      throw ApiError(KILN_ERROR_INTERNAL,
                     "the 'predict' entry does not take one float32 input");
    const kiln::Tensor &result =
        model->program->predict(wrap(images, *inputs[0]));
    std::memcpy(logits, result.rawData(), result.nbytes());
  });
}

kiln_status kiln_model_train_step(kiln_model *model, const float *images,
                                  const int64_t *labels, float *loss) {
  return guard(model, KILN_ERROR_ARGUMENT, [&] {
    require(model != nullptr, "kiln_model_train_step: model is NULL");
    require(images && labels,
            "kiln_model_train_step: images or labels is NULL");
    auto [imageSpec, labelSpec] = trainInputs(model);
    double value = model->program->trainStep(wrap(images, *imageSpec),
                                             wrap(labels, *labelSpec));
    if (loss)
      *loss = static_cast<float>(value);
  });
}

kiln_status kiln_model_train_step_enqueue(kiln_model *model,
                                          const float *images,
                                          const int64_t *labels) {
  return guard(model, KILN_ERROR_ARGUMENT, [&] {
    require(model != nullptr, "kiln_model_train_step_enqueue: model is NULL");
    require(images && labels,
            "kiln_model_train_step_enqueue: images or labels is NULL");
    auto [imageSpec, labelSpec] = trainInputs(model);
    model->program->enqueueTrainStep(wrap(images, *imageSpec),
                                     wrap(labels, *labelSpec));
  });
}

kiln_status kiln_model_train_inputs(kiln_model *model, float **images,
                                    int64_t **labels) {
  return guard(model, KILN_ERROR_ARGUMENT, [&] {
    require(model != nullptr, "kiln_model_train_inputs: model is NULL");
    require(images && labels,
            "kiln_model_train_inputs: images or labels is NULL");
    *images = nullptr, *labels = nullptr; // until they are known
    trainInputs(model); // a train_step of float32 images and int64 labels
    kiln::Program::TrainInputs inputs = model->program->trainInputs();
    *images = inputs.images.data<float>();
    *labels = inputs.labels.data<int64_t>();
  });
}

kiln_status kiln_model_take_losses(kiln_model *model, double *loss_sum,
                                   int64_t *steps) {
  return guard(model, KILN_ERROR_ARGUMENT, [&] {
    require(model != nullptr, "kiln_model_take_losses: model is NULL");
    auto [sum, count] = model->program->takeLosses();
    if (loss_sum)
      *loss_sum = sum;
    if (steps)
      *steps = count;
  });
}

kiln_status kiln_model_set_threads(kiln_model *model, int threads) {
  return guard(model, KILN_ERROR_ARGUMENT, [&] {
    require(model != nullptr, "kiln_model_set_threads: model is NULL");
    require(threads >= 1, "kiln_model_set_threads: threads must be 1 or "
                          "more, got " +
                              std::to_string(threads));
    model->program->setThreads(threads);
  });
}

kiln_status kiln_model_eval_step(kiln_model *model, const float *images,
                                 const int64_t *labels, float *loss,
                                 int64_t *correct, float *logits) {
  return guard(model, KILN_ERROR_ARGUMENT, [&] {
    require(model != nullptr, "kiln_model_eval_step: model is NULL");
    require(images && labels, "kiln_model_eval_step: images or labels is NULL");
    const kiln::EntryPoint &entry =
        requireEntry(model, "eval_step", "kiln compile --aot");
    auto inputs = argsOf(entry, kiln::ArgRole::Input);
    if (inputs.size() != 2 || inputs[0]->dtype != kiln::DType::F32 ||
        inputs[1]->dtype != kiln::DType::I64)
      throw ApiError(KILN_ERROR_INTERNAL,
                     "the 'eval_step' entry does not take float32 images "
                     "and int64 labels");
    kiln::Program::Evaluation result = model->program->evalStep(
        wrap(images, *inputs[0]), wrap(labels, *inputs[1]));
    if (loss)
      *loss = static_cast<float>(result.loss);
    if (correct)
      *correct = result.correct;
    if (logits)
      std::memcpy(logits, result.logits.rawData(), result.logits.nbytes());
  });
}

int64_t kiln_model_batch_size(const kiln_model *model, const char *entry) {
  const kiln::EntryPoint *found = entry ? findEntry(model, entry) : nullptr;
  if (!found)
    return 0;
  auto inputs = argsOf(*found, kiln::ArgRole::Input);
  if (inputs.empty() || inputs[0]->shape.empty())
    return 0;
  return inputs[0]->shape[0];
}

int64_t kiln_model_num_classes(const kiln_model *model) {
  if (const kiln::EntryPoint *predict = findEntry(model, "predict")) {
    auto outputs = argsOf(*predict, kiln::ArgRole::Output);
    if (!outputs.empty() && outputs[0]->shape.size() == 2)
      return outputs[0]->shape[1];
  }
  if (const kiln::EntryPoint *eval = findEntry(model, "eval_step")) {
    auto outputs = argsOf(*eval, kiln::ArgRole::Output);
    if (outputs.size() == 2 && outputs[1]->shape.size() == 2)
      return outputs[1]->shape[1];
  }
  if (const kiln::EntryPoint *train = findEntry(model, "train_step")) {
    for (const kiln::ArgSpec *input : argsOf(*train, kiln::ArgRole::Input)) {
      if (input->bound > 0)
        return input->bound;
    }
  }
  return 0;
}

int64_t kiln_model_parameter_count(const kiln_model *model) {
  return model ? static_cast<int64_t>(model->program->namedParameters().size())
               : 0;
}

const char *kiln_model_parameter_name(const kiln_model *model, int64_t index) {
  if (!model || index < 0 || index >= kiln_model_parameter_count(model))
    return nullptr;
  return model->program->namedParameters()[static_cast<size_t>(index)]
      .first.c_str();
}

int64_t kiln_model_parameter_size(const kiln_model *model, const char *name) {
  if (!model || !name)
    return 0;
  for (const auto &[key, tensor] : model->program->namedParameters()) {
    if (key == name)
      return tensor.numel();
  }
  return 0;
}

kiln_status kiln_model_get_parameter(const kiln_model *model, const char *name,
                                     float *values, int64_t count) {
  return guard(model, KILN_ERROR_ARGUMENT, [&] {
    const kiln::Tensor &tensor =
        parameterNamed(model, name, "kiln_model_get_parameter");
    require(values != nullptr, "kiln_model_get_parameter: values is NULL");
    require(count == tensor.numel() && tensor.dtype() == kiln::DType::F32,
            "kiln_model_get_parameter: '" + std::string(name) + "' has " +
                std::to_string(tensor.numel()) + " float32 values, not " +
                std::to_string(count));
    std::memcpy(values, tensor.rawData(), tensor.nbytes());
  });
}

kiln_status kiln_model_set_parameter(kiln_model *model, const char *name,
                                     const float *values, int64_t count) {
  return guard(model, KILN_ERROR_ARGUMENT, [&] {
    const kiln::Tensor &tensor =
        parameterNamed(model, name, "kiln_model_set_parameter");
    require(values != nullptr, "kiln_model_set_parameter: values is NULL");
    require(count == tensor.numel() && tensor.dtype() == kiln::DType::F32,
            "kiln_model_set_parameter: '" + std::string(name) + "' has " +
                std::to_string(tensor.numel()) + " float32 values, not " +
                std::to_string(count));
    kiln::Tensor shared = tensor; // the program's storage, not a copy
    std::memcpy(shared.rawData(), values, shared.nbytes());
    model->program->pushToDevice();
  });
}

const char *kiln_model_device(const kiln_model *model) {
  if (!model)
    return "";
  model->device = model->program->deviceDescription();
  return model->device.c_str();
}

const char *kiln_model_error(const kiln_model *model) {
  return model ? model->error.c_str() : "model is NULL";
}

const char *kiln_last_error(void) { return lastError.c_str(); }

void kiln_model_destroy(kiln_model *model) { delete model; }

kiln_status kiln_dataset_load_fashion_mnist(const char *dir, int train,
                                            kiln_dataset **out) {
  return guard(nullptr, KILN_ERROR_FILE, [&] {
    require(out != nullptr, "kiln_dataset_load_fashion_mnist: out is NULL");
    *out = nullptr;
    auto dataset = std::make_unique<kiln_dataset>();
    dataset->data = kiln::loadFashionMnist(
        dir ? dir : kiln::defaultFashionMnistDir(), train != 0);
    *out = dataset.release();
  });
}

int64_t kiln_dataset_size(const kiln_dataset *dataset) {
  return dataset ? dataset->data.size() : 0;
}

const float *kiln_dataset_images(const kiln_dataset *dataset) {
  return dataset ? dataset->data.images.data<float>() : nullptr;
}

const int64_t *kiln_dataset_labels(const kiln_dataset *dataset) {
  return dataset ? dataset->data.labels.data<int64_t>() : nullptr;
}

void kiln_dataset_destroy(kiln_dataset *dataset) { delete dataset; }

} // extern "C"
