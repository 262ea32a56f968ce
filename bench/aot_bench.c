/* aot_bench: an AOT-compiled LeNet's time to its first logits and its
 * predict throughput, for bench/bench_aot.py (which builds it against each
 * lenet.h it compiles):
 *
 *   aot_bench WEIGHTS STEPS
 *
 * creates the model, loads WEIGHTS, predicts once on a fixed batch, then
 * (if STEPS > 0) warms up and times STEPS more predictions. Prints one JSON
 * line; first_logits_s is from main() to the first logits (the process's
 * own start-up before main() is what the script adds by timing the whole
 * process with STEPS 0).
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */

#include "lenet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int failed(kiln_status status) {
  if (status == KILN_OK)
    return 0;
  fprintf(stderr, "aot_bench: error %d: %s\n", (int)status, kiln_last_error());
  return 1;
}

int main(int argc, char **argv) {
  const double start = now();
  if (argc != 3) {
    fprintf(stderr, "usage: aot_bench WEIGHTS STEPS\n");
    return 2;
  }
  const long steps = atol(argv[2]);
  kiln_model *model = NULL;
  if (failed(lenet_create(&model)) ||
      failed(kiln_model_load_weights(model, argv[1])))
    return 1;
  const int64_t batch = kiln_model_batch_size(model, "predict");
  const int64_t classes = kiln_model_num_classes(model);
  const int64_t pixels = 1 * 32 * 32;
  float *images = malloc((size_t)(batch * pixels) * sizeof(float));
  float *logits = malloc((size_t)(batch * classes) * sizeof(float));
  if (!images || !logits) {
    fprintf(stderr, "aot_bench: out of memory\n");
    return 1;
  }
  for (int64_t i = 0; i < batch * pixels; ++i)
    images[i] = (float)sin(0.001 * (double)i);
  if (failed(kiln_model_predict(model, images, logits)))
    return 1;
  const double first = now() - start;

  double seconds = 0;
  if (steps > 0) {
    const long warmup = steps / 10 + 1 < 50 ? steps / 10 + 1 : 50;
    for (long i = 0; i < warmup; ++i)
      kiln_model_predict(model, images, logits);
    const double begin = now();
    for (long i = 0; i < steps; ++i)
      kiln_model_predict(model, images, logits);
    seconds = now() - begin;
  }
  printf("{\"batch\":%lld,\"steps\":%ld,\"first_logits_s\":%.6f,"
         "\"images_per_s\":%.1f,\"logit0\":%.6f}\n",
         (long long)batch, steps, first,
         seconds > 0 ? (double)(steps * batch) / seconds : 0.0,
         (double)logits[0]);
  kiln_model_destroy(model);
  free(images);
  free(logits);
  return 0;
}
