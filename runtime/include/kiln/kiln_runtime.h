/* kiln_runtime.h: the C API that a model compiled by `kiln compile --aot`
 * links (libkiln_runtime.so: no MLIR, no LLVM, no compiler at run time).
 *
 * A complete program, with lenet.h, lenet.o and lenet.safetensors from
 * `kiln compile --aot --model lenet -o DIR`:
 *
 *   #include "lenet.h"
 *   #include <stdio.h>
 *   #include <stdlib.h>
 *
 *   int main(void) {
 *     kiln_model *model;
 *     if (lenet_create(&model) != KILN_OK ||
 *         kiln_model_load_weights(model, "DIR/lenet.safetensors") != KILN_OK) {
 *       fprintf(stderr, "%s\n", kiln_last_error());
 *       return 1;
 *     }
 *     int64_t batch = kiln_model_batch_size(model, "predict");
 *     float *images = calloc(batch * 1 * 32 * 32, sizeof(float));
 *     float *logits = malloc(batch * kiln_model_num_classes(model) * 4);
 *     ... fill images with normalised pixels ...
 *     if (kiln_model_predict(model, images, logits) != KILN_OK)
 *       fprintf(stderr, "%s\n", kiln_model_error(model));
 *     kiln_model_destroy(model);
 *     free(images);
 *     free(logits);
 *     return 0;
 *   }
 *
 *   cc main.c DIR/lenet.o -IDIR -I<kiln>/runtime/include -L<lib> -lkiln_runtime
 *
 * Every function reports failure with a status and a message; none of them
 * throws, aborts or prints. Shapes and dtypes of the buffers are those the
 * model was compiled for, documented in the generated header and queryable
 * with kiln_model_batch_size and kiln_model_num_classes. A model is not safe
 * to use from two threads at once; distinct models are independent.
 */
#ifndef KILN_KILN_RUNTIME_H
#define KILN_KILN_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A compiled model bound to its parameters, optimizer state and scratch
 * memory, all owned by the runtime. */
typedef struct kiln_model kiln_model;

/* Compiled code: args[i] points to the i-th argument's buffer pointer
 * (MLIR's packed calling convention). */
typedef void (*kiln_entry_fn)(void **args);

typedef enum {
  KILN_OK = 0,
  KILN_ERROR_ARGUMENT = 1, /* NULL pointer, unknown entry, label out of range */
  KILN_ERROR_FILE = 2,     /* a file could not be opened or written */
  KILN_ERROR_WEIGHTS = 3,  /* a weights file of another model, size, version,
                              or a damaged one */
  KILN_ERROR_MEMORY = 4,
  KILN_ERROR_INTERNAL = 5,
  KILN_ERROR_DEVICE = 6 /* no CUDA driver or GPU, or a CUDA call failed */
} kiln_status;

/* Binds compiled entry points to fresh, zeroed parameters. `entries` is the
 * description the compiler emitted (lenet_entries); entry_names[i] names
 * functions[i], and each must be described there, as each description must
 * have a function. The generated <model>_create calls this for you. */
kiln_status kiln_model_create(const char *entries,
                              const char *const *entry_names,
                              const kiln_entry_fn *functions, int count,
                              kiln_model **out);

/* Like kiln_model_create, for a model compiled with `kiln compile --aot
 * --target cuda`: every entry point then runs on CUDA device `device`
 * (0 for the first GPU) through the kernels in `cuda_bundle` (the
 * object's <prefix>cuda, cuda_bundle_size bytes), precompiled for one or
 * more GPU architectures; the runtime opens the CUDA driver (libcuda.so.1)
 * and needs no compiler. Parameters and optimizer state live on the GPU;
 * the calls below copy what they read or write. KILN_ERROR_DEVICE, with a
 * message saying what is missing, where there is no driver, no such device,
 * or no kernels for this GPU; the generated <model>_create_cuda calls this
 * for you. */
kiln_status kiln_model_create_cuda(const char *entries,
                                   const char *const *entry_names,
                                   const kiln_entry_fn *functions, int count,
                                   const unsigned char *cuda_bundle,
                                   int64_t cuda_bundle_size, int device,
                                   kiln_model **out);

/* "cpu", or the GPU the model runs on: "cuda:0 (NVIDIA H100 80GB HBM3,
 * sm_90)". Valid until the next call on the model. */
const char *kiln_model_device(const kiln_model *model);

/* Reads every parameter, by name, from a safetensors state dict, a
 * `kiln train --save` checkpoint or a kiln program file (their optimizer
 * state is ignored). Refuses with KILN_ERROR_WEIGHTS, naming what differs
 * and changing nothing, a file with a missing, extra or differently shaped
 * or typed tensor, one written by an incompatible kiln version or program
 * file format, or a truncated or corrupt one; KILN_ERROR_FILE if it cannot
 * be opened. */
kiln_status kiln_model_load_weights(kiln_model *model,
                                    const char *safetensors_path);

/* Writes the parameters as a safetensors state dict, atomically. */
kiln_status kiln_model_save_weights(const kiln_model *model, const char *path);

/* images: [batch, 1, 32, 32] float32; logits: [batch, classes] float32,
 * written by the call. Needs the `predict` entry. */
kiln_status kiln_model_predict(kiln_model *model, const float *images,
                               float *logits);

/* One optimizer step on a batch: images [batch, 1, 32, 32] float32, labels
 * [batch] int64 in [0, classes). *loss (if loss is not NULL) receives the
 * loss before the update. Needs the `train_step` entry (--train). */
kiln_status kiln_model_train_step(kiln_model *model, const float *images,
                                  const int64_t *labels, float *loss);

/* kiln_model_train_step without waiting for the step to finish where the
 * model runs on a GPU (the next batch is copied while this one trains); on
 * the CPU it runs at once. The images and labels may be reused as soon as
 * it returns. kiln_model_take_losses waits for every step enqueued since it
 * was last called and gives the sum of their losses and their number. */
kiln_status kiln_model_train_step_enqueue(kiln_model *model,
                                          const float *images,
                                          const int64_t *labels);
kiln_status kiln_model_take_losses(kiln_model *model, double *loss_sum,
                                   int64_t *steps);

/* Where the next train step of `model` reads its batch in place: on a GPU the
 * pinned memory the batch is copied to the device from, so that a batch
 * written there spares kiln_model_train_step_enqueue its own copy of it;
 * elsewhere memory the model owns. Write images and labels there, then pass
 * these pointers to kiln_model_train_step_enqueue (or _train_step). They stay
 * valid until the next train step call on `model` or its destruction. */
kiln_status kiln_model_train_inputs(kiln_model *model, float **images,
                                    int64_t **labels);

/* Loss and accuracy of a labelled batch, changing nothing: images
 * [batch, 1, 32, 32] float32, labels [batch] int64 in [0, classes). *loss
 * receives the mean loss (what train_step returns for the same batch, before
 * its update), *correct the number of images whose largest logit (the first
 * on ties) is their label, and logits [batch, classes] float32 the model's
 * output; any of the three may be NULL. Needs the `eval_step` entry. */
kiln_status kiln_model_eval_step(kiln_model *model, const float *images,
                                 const int64_t *labels, float *loss,
                                 int64_t *correct, float *logits);

/* The batch size `entry` was compiled for; 0 if the model has no such
 * entry. */
int64_t kiln_model_batch_size(const kiln_model *model, const char *entry);

/* The number of classes the model predicts; 0 if it cannot tell. */
int64_t kiln_model_num_classes(const kiln_model *model);

/* Runs the model's compiled code on at most `threads` threads (>= 1); the
 * default is every core. Results do not depend on it: the code splits its
 * work into the parts chosen at compile time (`kiln compile --aot
 * --threads N`, default every core of the compiling machine), and fewer
 * threads run those parts in turn. */
kiln_status kiln_model_set_threads(kiln_model *model, int threads);

/* The model's parameters: their number, the name of the index-th (in a
 * fixed order; NULL out of range), and the float32 values of one by name
 * (0 for an unknown name). get copies `count` values out (count must be the
 * parameter's size), set copies them in (to the GPU too). */
int64_t kiln_model_parameter_count(const kiln_model *model);
const char *kiln_model_parameter_name(const kiln_model *model, int64_t index);
int64_t kiln_model_parameter_size(const kiln_model *model, const char *name);
kiln_status kiln_model_get_parameter(const kiln_model *model, const char *name,
                                     float *values, int64_t count);
kiln_status kiln_model_set_parameter(kiln_model *model, const char *name,
                                     const float *values, int64_t count);

/* The message of the last failure on `model` ("" if none); valid until the
 * next call on it. */
const char *kiln_model_error(const kiln_model *model);

/* The message of the last failure in this thread, on any model or none
 * (e.g. kiln_model_create); "" if none. */
const char *kiln_last_error(void);

/* Frees the model and everything it owns; NULL is ignored. */
void kiln_model_destroy(kiln_model *model);

/* Fashion-MNIST, for examples and tests. */
typedef struct kiln_dataset kiln_dataset;

/* Loads the train (60000 images) or test (10000) split from `dir`, or from
 * $KILN_DATA_DIR, else /usr/share/datasets/fashion-mnist, when dir is NULL. */
kiln_status kiln_dataset_load_fashion_mnist(const char *dir, int train,
                                            kiln_dataset **out);

/* The number of images. */
int64_t kiln_dataset_size(const kiln_dataset *dataset);

/* [size, 1, 32, 32] float32: pixels p as (p/255 - 0.5)/0.5, padded by 2
 * pixels of -1 on every side; what LeNet was compiled for. */
const float *kiln_dataset_images(const kiln_dataset *dataset);

/* [size] int64 class indices in [0, 10). */
const int64_t *kiln_dataset_labels(const kiln_dataset *dataset);

void kiln_dataset_destroy(kiln_dataset *dataset);

#ifdef __cplusplus
}
#endif

#endif /* KILN_KILN_RUNTIME_H */
