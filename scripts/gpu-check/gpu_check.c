/* gpu_check: the checks scripts/gpu-check.sh runs on a machine with an NVIDIA
 * GPU, through three objects `scripts/gpu-check.sh prepare` compiled with
 * `kiln compile --aot --target cuda --train`:
 *
 *   gpu_check compare DIR  one batch through the CPU code and the CUDA kernels
 *                          of `check` (lr 1, momentum 0): logits, losses and
 *                          every parameter's change in one SGD step (minus its
 *                          gradient) agree to 1e-4 relative per tensor
 *   gpu_check train DIR    the blitz recipe (`blitz4`: batch 4, lr 0.001,
 *                          momentum 0.9) on the GPU for 2 epochs of
 *                          Fashion-MNIST, then test accuracy >= 0.86
 *   gpu_check bench DIR    training images/s at batch 4 (`blitz4`) and 256
 *                          (`bench256`), and the CPU time of one enqueued step
 *
 * DIR holds <object>.safetensors (each object's initial weights: a created
 * model's parameters are zeros) and data/, the four Fashion-MNIST .gz files.
 * Each mode ends with one "result:" line that the script's table reads. Exit
 * status: 0 passed, 1 a check or a call failed, 2 no GPU to run on.
 *
 * Test aids for a machine without a GPU: --cpu builds every "GPU" model on
 * the CPU instead (compare then checks the CPU code against itself), and
 * --max-steps N caps each training epoch at N steps, leaving the accuracy
 * unchecked.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */

#include "bench256.h"
#include "blitz4.h"
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PIXELS (1 * 32 * 32)
#define EXIT_NO_GPU 2
/* The bound. Against the host stand-in for the GPU the kernels differ
 * from the CPU by at most 4.2e-7 of a tensor's largest value (docs/cuda.md). */
#define TOLERANCE 1e-4
#define MIN_ACCURACY 0.86
#define EPOCHS 2
#define LOG_EVERY 2000 /* the blitz's running-loss interval, in steps */
#define WARMUP_STEPS 50
#define OVERHEAD_SAMPLES 201
#define SYNTHETIC_BATCHES 16 /* distinct host batches a benchmark cycles through */

/* An object of the folder; its prefix names DIR/<name>.safetensors. */
typedef struct {
  const char *name;
  kiln_status (*createCpu)(kiln_model **out);
  kiln_status (*createCuda)(kiln_model **out, int device);
} Object;

static const Object checkObject = {"check", check_create, check_create_cuda};
static const Object blitz4Object = {"blitz4", blitz4_create,
                                    blitz4_create_cuda};
static const Object bench256Object = {"bench256", bench256_create,
                                      bench256_create_cuda};

typedef struct {
  const char *dir;  /* the folder prepare wrote */
  int cpu;          /* --cpu: "GPU" models run on the CPU */
  int64_t maxSteps; /* --max-steps: steps per epoch of train; 0: all */
} Options;

/* Prints what failed with kiln's message and returns 1; 0 for KILN_OK. */
static int failed(kiln_status status, const kiln_model *model,
                  const char *what) {
  if (status == KILN_OK)
    return 0;
  const char *message = model ? kiln_model_error(model) : "";
  fprintf(stderr, "gpu_check: %s: error %d: %s\n", what, (int)status,
          *message ? message : kiln_last_error());
  return 1;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* splitmix64: a fixed seed gives every run the same order and data. */
static uint64_t nextRandom(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Creates `object` on the CPU or on the first GPU and loads its initial
 * weights. Returns 0; EXIT_NO_GPU where there is no driver or GPU (the
 * messages run_example.sh accepts as "no GPU"); else 1. */
static int openModel(const Object *object, int onGpu, const Options *options,
                     kiln_model **out) {
  *out = NULL;
  kiln_status status =
      onGpu ? object->createCuda(out, 0) : object->createCpu(out);
  const char *message = kiln_last_error();
  if (status == KILN_ERROR_DEVICE && (strstr(message, "no CUDA driver found") ||
                                      strstr(message, "no CUDA device found") ||
                                      strstr(message, "CUDA cannot start"))) {
    fprintf(stderr, "gpu_check: no GPU to run on: %s\n", message);
    return EXIT_NO_GPU;
  }
  if (failed(status, NULL, onGpu ? "creating the CUDA model" : "creating"))
    return 1;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.safetensors", options->dir, object->name);
  if (failed(kiln_model_load_weights(*out, path), *out, "loading weights")) {
    kiln_model_destroy(*out);
    *out = NULL;
    return 1;
  }
  printf("%s on %s\n", object->name, kiln_model_device(*out));
  return 0;
}

static int loadData(const Options *options, int train, kiln_dataset **out) {
  char path[4096];
  snprintf(path, sizeof path, "%s/data", options->dir);
  return failed(kiln_dataset_load_fashion_mnist(path, train, out), NULL,
                "loading Fashion-MNIST");
}

/* Prints max|a - b| / max|a| of one tensor, the reference a setting the
 * scale (infinite where either holds a NaN), and keeps the largest in *worst.
 * The scale is printed too: an error of 0 means little for a tensor of 0s. */
static void report(const char *what, const float *reference, const float *other,
                   int64_t count, double *worst) {
  double largest = 0, difference = 0;
  for (int64_t i = 0; i < count; ++i) {
    const double d = fabs((double)reference[i] - (double)other[i]);
    if (!(d <= difference)) /* NaN too */
      difference = d;
    if (fabs((double)reference[i]) > largest)
      largest = fabs((double)reference[i]);
  }
  double error = difference == 0 ? 0 : difference / largest;
  if (isnan(error))
    error = INFINITY;
  printf("  %-22s %-10.3g (max |cpu| %.3g)%s\n", what, error, largest,
         error <= TOLERANCE ? "" : "  FAIL");
  if (error > *worst)
    *worst = error;
}

/* Every parameter, in the model's order, end to end; NULL on failure. Both
 * models of the check have the same parameters in the same order. */
static float *readParameters(const kiln_model *model, int64_t total) {
  float *values = malloc((size_t)total * sizeof(float));
  if (!values) {
    fprintf(stderr, "gpu_check: out of memory\n");
    return NULL;
  }
  float *next = values;
  const int64_t count = kiln_model_parameter_count(model);
  for (int64_t i = 0; i < count; ++i) {
    const char *name = kiln_model_parameter_name(model, i);
    const int64_t size = kiln_model_parameter_size(model, name);
    if (failed(kiln_model_get_parameter(model, name, next, size), model,
               name)) {
      free(values);
      return NULL;
    }
    next += size;
  }
  return values;
}

static int64_t parameterTotal(const kiln_model *model) {
  int64_t total = 0;
  const int64_t count = kiln_model_parameter_count(model);
  for (int64_t i = 0; i < count; ++i)
    total +=
        kiln_model_parameter_size(model, kiln_model_parameter_name(model, i));
  return total;
}

/* The first batch of the training set through both models of `check`. */
static int compare(const Options *options) {
  kiln_model *cpu = NULL, *gpu = NULL;
  kiln_dataset *data = NULL;
  float *before[2] = {NULL, NULL}, *after[2] = {NULL, NULL};
  float *logits[2] = {NULL, NULL};
  int code = openModel(&checkObject, 0, options, &cpu);
  if (code == 0)
    code = openModel(&checkObject, !options->cpu, options, &gpu);
  if (code == 0)
    code = loadData(options, 1, &data);
  if (code != 0)
    goto done;
  code = 1;
  kiln_model *models[2] = {cpu, gpu};
  const int64_t batch = kiln_model_batch_size(cpu, "eval_step");
  const int64_t classes = kiln_model_num_classes(cpu);
  const int64_t total = parameterTotal(cpu);
  const float *images = kiln_dataset_images(data);
  const int64_t *labels = kiln_dataset_labels(data);
  float evalLoss[2], trainLoss[2];
  for (int m = 0; m < 2; ++m) {
    logits[m] = malloc((size_t)(batch * classes) * sizeof(float));
    if (!logits[m] || !(before[m] = readParameters(models[m], total)) ||
        failed(kiln_model_eval_step(models[m], images, labels, &evalLoss[m],
                                    NULL, logits[m]),
               models[m], "eval_step") ||
        failed(kiln_model_train_step(models[m], images, labels, &trainLoss[m]),
               models[m], "train_step") ||
        !(after[m] = readParameters(models[m], total)))
      goto done;
  }
  printf("relative error, CPU vs %s, per tensor (max |cpu - gpu| / max "
         "|cpu|; at most %g):\n",
         kiln_model_device(gpu), TOLERANCE);
  double worst = 0;
  report("logits", logits[0], logits[1], batch * classes, &worst);
  report("eval_step loss", &evalLoss[0], &evalLoss[1], 1, &worst);
  report("train_step loss", &trainLoss[0], &trainLoss[1], 1, &worst);
  /* lr 1 and no momentum: the change is minus the gradient. */
  int64_t offset = 0;
  const int64_t count = kiln_model_parameter_count(cpu);
  for (int64_t i = 0; i < count; ++i) {
    const char *name = kiln_model_parameter_name(cpu, i);
    const int64_t size = kiln_model_parameter_size(cpu, name);
    for (int m = 0; m < 2; ++m) {
      for (int64_t j = offset; j < offset + size; ++j)
        after[m][j] -= before[m][j];
    }
    char what[128];
    snprintf(what, sizeof what, "gradient %s", name);
    report(what, after[0] + offset, after[1] + offset, size, &worst);
    offset += size;
  }
  const int pass = worst <= TOLERANCE;
  printf("result: compare max_rel_err=%.3g pass=%d\n", worst, pass);
  code = pass ? 0 : 1;
done:
  for (int m = 0; m < 2; ++m) {
    free(before[m]);
    free(after[m]);
    free(logits[m]);
  }
  kiln_dataset_destroy(data);
  kiln_model_destroy(cpu);
  kiln_model_destroy(gpu);
  return code;
}

/* The share of `test` whose largest logit is the label, in whole batches of
 * eval_step's size (10000 images are 2500 of 4); -1 on failure. */
static double accuracy(kiln_model *model, const kiln_dataset *test) {
  const int64_t batch = kiln_model_batch_size(model, "eval_step");
  const int64_t batches = kiln_dataset_size(test) / batch;
  int64_t correct = 0;
  for (int64_t b = 0; b < batches; ++b) {
    int64_t right = 0;
    if (failed(kiln_model_eval_step(
                   model, kiln_dataset_images(test) + b * batch * PIXELS,
                   kiln_dataset_labels(test) + b * batch, NULL, &right, NULL),
               model, "eval_step"))
      return -1;
    correct += right;
  }
  return (double)correct / (double)(batches * batch);
}

/* The blitz: EPOCHS epochs over the shuffled training set through the
 * asynchronous path, the running loss every LOG_EVERY steps, then the test
 * accuracy. */
static int train(const Options *options) {
  const double started = now();
  kiln_model *model = NULL;
  kiln_dataset *trainSet = NULL, *testSet = NULL;
  int64_t *order = NULL, *labels = NULL;
  float *images = NULL;
  int code = openModel(&blitz4Object, !options->cpu, options, &model);
  if (code == 0)
    code = loadData(options, 1, &trainSet) || loadData(options, 0, &testSet);
  if (code != 0)
    goto done;
  code = 1;
  const int64_t batch = kiln_model_batch_size(model, "train_step");
  const int64_t size = kiln_dataset_size(trainSet);
  int64_t steps = size / batch;
  if (options->maxSteps > 0 && options->maxSteps < steps)
    steps = options->maxSteps;
  order = malloc((size_t)size * sizeof(int64_t));
  labels = malloc((size_t)batch * sizeof(int64_t));
  images = malloc((size_t)(batch * PIXELS) * sizeof(float));
  if (!order || !labels || !images) {
    fprintf(stderr, "gpu_check: out of memory\n");
    goto done;
  }
  for (int64_t i = 0; i < size; ++i)
    order[i] = i;
  uint64_t seed = 0;
  const double trainStart = now();
  for (int epoch = 1; epoch <= EPOCHS; ++epoch) {
    for (int64_t i = size - 1; i > 0; --i) { /* Fisher-Yates */
      const int64_t j = (int64_t)(nextRandom(&seed) % (uint64_t)(i + 1));
      const int64_t kept = order[i];
      order[i] = order[j];
      order[j] = kept;
    }
    for (int64_t step = 1; step <= steps; ++step) {
      for (int64_t k = 0; k < batch; ++k) {
        const int64_t source = order[(step - 1) * batch + k];
        memcpy(images + k * PIXELS,
               kiln_dataset_images(trainSet) + source * PIXELS,
               PIXELS * sizeof(float));
        labels[k] = kiln_dataset_labels(trainSet)[source];
      }
      if (failed(kiln_model_train_step_enqueue(model, images, labels), model,
                 "train_step_enqueue"))
        goto done;
      if (step % LOG_EVERY != 0)
        continue;
      double lossSum = 0;
      int64_t taken = 0;
      if (failed(kiln_model_take_losses(model, &lossSum, &taken), model,
                 "take_losses"))
        goto done;
      printf("[%d, %5lld] loss: %.3f\n", epoch, (long long)step,
             lossSum / (double)taken);
    }
  }
  if (failed(kiln_model_take_losses(model, NULL, NULL), model, "take_losses"))
    goto done;
  const double trainSeconds = now() - trainStart;
  const double testAccuracy = accuracy(model, testSet);
  if (testAccuracy < 0)
    goto done;
  const double imagesPerSecond =
      (double)(EPOCHS * steps * batch) / trainSeconds;
  const int checked = steps == size / batch;
  const int pass = !checked || testAccuracy >= MIN_ACCURACY;
  printf("accuracy %.4f on %lld test images%s; training %.0f images/s\n",
         testAccuracy, (long long)kiln_dataset_size(testSet),
         checked ? "" : " (not checked: --max-steps)", imagesPerSecond);
  printf("result: train accuracy=%.4f checked=%d pass=%d images_per_s=%.0f "
         "seconds=%.1f\n",
         testAccuracy, checked, pass, imagesPerSecond, now() - started);
  code = pass ? 0 : 1;
done:
  free(order);
  free(labels);
  free(images);
  kiln_dataset_destroy(trainSet);
  kiln_dataset_destroy(testSet);
  kiln_model_destroy(model);
  return code;
}

static int ascending(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median CPU time of one enqueue with the GPU idle (every step before it
 * taken), of batches from `images` and `labels` in turn: passed as they are,
 * or (`inPlace`) first written where kiln_model_train_inputs says, as kiln
 * train's loader does, so that the enqueue copies nothing itself; the time of
 * kiln_model_train_inputs is counted then, the writing of the batch is not. */
static int medianEnqueue(kiln_model *model, const float *images,
                         const int64_t *labels, int64_t batch, int inPlace,
                         double *median) {
  double samples[OVERHEAD_SAMPLES];
  for (int i = 0; i < OVERHEAD_SAMPLES; ++i) {
    const float *x = images + (i % SYNTHETIC_BATCHES) * batch * PIXELS;
    const int64_t *y = labels + (i % SYNTHETIC_BATCHES) * batch;
    if (failed(kiln_model_take_losses(model, NULL, NULL), model, "take_losses"))
      return 1;
    double asking = 0; /* kiln_model_train_inputs, which waits for the set */
    if (inPlace) {
      float *stagedImages = NULL;
      int64_t *stagedLabels = NULL;
      const double asked = now();
      if (failed(kiln_model_train_inputs(model, &stagedImages, &stagedLabels),
                 model, "train_inputs"))
        return 1;
      asking = now() - asked;
      memcpy(stagedImages, x, (size_t)(batch * PIXELS) * sizeof(float));
      memcpy(stagedLabels, y, (size_t)batch * sizeof(int64_t));
      x = stagedImages, y = stagedLabels;
    }
    const double before = now();
    const kiln_status status = kiln_model_train_step_enqueue(model, x, y);
    samples[i] = asking + now() - before;
    if (failed(status, model, "train_step_enqueue"))
      return 1;
  }
  if (failed(kiln_model_take_losses(model, NULL, NULL), model, "take_losses"))
    return 1;
  qsort(samples, OVERHEAD_SAMPLES, sizeof samples[0], ascending);
  *median = samples[OVERHEAD_SAMPLES / 2];
  return 0;
}

/* Training images/s of `object` over `steps` enqueued steps on synthetic
 * batches (16 distinct host batches in turn, each copied to the GPU like a
 * real one), and the median CPU time of one enqueue with the GPU idle: of the
 * caller's batch, and of a batch written in place (kiln_model_train_inputs). */
static int benchmark(const Object *object, int64_t steps,
                     const Options *options) {
  kiln_model *model = NULL;
  int code = openModel(object, !options->cpu, options, &model);
  if (code != 0)
    return code;
  code = 1;
  const int64_t batch = kiln_model_batch_size(model, "train_step");
  const int64_t classes = kiln_model_num_classes(model);
  float *images = malloc((size_t)(SYNTHETIC_BATCHES * batch * PIXELS) * sizeof(float));
  int64_t *labels = malloc((size_t)(SYNTHETIC_BATCHES * batch) * sizeof(int64_t));
  if (!images || !labels) {
    fprintf(stderr, "gpu_check: out of memory\n");
    goto done;
  }
  uint64_t seed = 1;
  for (int64_t i = 0; i < SYNTHETIC_BATCHES * batch * PIXELS; ++i)
    images[i] = (float)(nextRandom(&seed) >> 40) / (float)(1 << 23) - 1.0f;
  for (int64_t i = 0; i < SYNTHETIC_BATCHES * batch; ++i)
    labels[i] = (int64_t)(nextRandom(&seed) % (uint64_t)classes);
  double started = 0;
  for (int64_t step = -WARMUP_STEPS; step < steps; ++step) {
    if (step == 0) {
      if (failed(kiln_model_take_losses(model, NULL, NULL), model,
                 "take_losses"))
        goto done;
      started = now();
    }
    const int64_t b = (step + WARMUP_STEPS) % SYNTHETIC_BATCHES;
    if (failed(kiln_model_train_step_enqueue(model, images + b * batch * PIXELS,
                                             labels + b * batch),
               model, "train_step_enqueue"))
      goto done;
  }
  double lossSum = 0;
  if (failed(kiln_model_take_losses(model, &lossSum, NULL), model,
             "take_losses"))
    goto done;
  const double seconds = now() - started;
  double copying = 0, staged = 0;
  if (medianEnqueue(model, images, labels, batch, 0, &copying) != 0 ||
      medianEnqueue(model, images, labels, batch, 1, &staged) != 0)
    goto done;
  const double imagesPerSecond = (double)(steps * batch) / seconds;
  printf("batch %lld: %lld steps in %.3f s, %.0f images/s (mean loss %.3f); "
         "one enqueue %.2f us, %.2f us with the batch written in place "
         "(medians of %d)\n",
         (long long)batch, (long long)steps, seconds, imagesPerSecond,
         lossSum / (double)steps, 1e6 * copying, 1e6 * staged,
         OVERHEAD_SAMPLES);
  printf("result: bench batch=%lld images_per_s=%.0f overhead_us=%.2f "
         "staged_us=%.2f\n",
         (long long)batch, imagesPerSecond, 1e6 * copying, 1e6 * staged);
  code = 0;
done:
  free(images);
  free(labels);
  kiln_model_destroy(model);
  return code;
}

static int bench(const Options *options) {
  int code = benchmark(&blitz4Object, 5000, options);
  return code != 0 ? code : benchmark(&bench256Object, 500, options);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* in order with stderr through a pipe */
  Options options = {NULL, 0, 0};
  int (*mode)(const Options *) = NULL;
  if (argc >= 3) {
    if (strcmp(argv[1], "compare") == 0)
      mode = compare;
    else if (strcmp(argv[1], "train") == 0)
      mode = train;
    else if (strcmp(argv[1], "bench") == 0)
      mode = bench;
    options.dir = argv[2];
  }
  for (int i = 3; mode && i < argc; ++i) {
    if (strcmp(argv[i], "--cpu") == 0)
      options.cpu = 1;
    else if (strcmp(argv[i], "--max-steps") == 0 && i + 1 < argc)
      options.maxSteps = strtoll(argv[++i], NULL, 10);
    else
      mode = NULL;
  }
  if (!mode) {
    fprintf(stderr, "usage: gpu_check compare|train|bench DIR [--cpu] "
                    "[--max-steps N]\n");
    return 1;
  }
  return mode(&options);
}
