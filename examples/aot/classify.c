/* classify: LeNet compiled ahead of time, in plain C with no compiler at run
 * time. It links the lenet.o that `kiln compile --aot` wrote and
 * libkiln_runtime:
 *
 *   kiln compile --aot --model lenet --weights W --batch-size 1000 -o out
 *   cc -O2 -Iout -I<kiln>/runtime/include classify.c out/lenet.o \
 *      -L<dir of libkiln_runtime.so> -lkiln_runtime -o classify
 *   ./classify eval out/lenet.safetensors    # accuracy: 0.8123, test loss
 *   ./classify train out/lenet.safetensors   # needs --train: the loss falls
 *
 * With --cuda, a lenet.o compiled with `--target cuda` runs on the first GPU
 * (through libcuda.so.1, with the kernels the object embeds).
 *
 * The Fashion-MNIST folder is the third argument, or $KILN_DATA_DIR, or
 * /usr/share/datasets/fashion-mnist.
 */
#include "lenet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the failure of `status` and returns 1, or returns 0 on success.
 * kiln_last_error has the message of a failure on any model, too. */
static int failed(kiln_status status) {
  if (status == KILN_OK)
    return 0;
  fprintf(stderr, "classify: error %d: %s\n", (int)status, kiln_last_error());
  return 1;
}

/* Classifies the test set in batches of the compiled size; a last, partial
 * batch is padded with copies of the final image and only its real images
 * are counted. Full batches also go through eval_step, whose mean loss is
 * printed and whose count of correct images must equal predict's. */
static int evaluate(kiln_model *model, const kiln_dataset *test) {
  const int64_t batch = kiln_model_batch_size(model, "predict");
  const int64_t classes = kiln_model_num_classes(model);
  const int64_t pixels = 1 * 32 * 32, size = kiln_dataset_size(test);
  const float *images = kiln_dataset_images(test);
  const int64_t *labels = kiln_dataset_labels(test);
  float *input = malloc(batch * pixels * sizeof(float));
  float *logits = malloc(batch * classes * sizeof(float));
  if (!input || !logits) {
    fprintf(stderr, "classify: out of memory\n");
    return 1;
  }
  int64_t correct = 0, fullCorrect = 0, evalCorrect = 0, fullBatches = 0;
  double lossSum = 0;
  for (int64_t start = 0; start < size; start += batch) {
    const int64_t count = size - start < batch ? size - start : batch;
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t source = start + (i < count ? i : count - 1);
      memcpy(input + i * pixels, images + source * pixels,
             pixels * sizeof(float));
    }
    if (failed(kiln_model_predict(model, input, logits)))
      return 1;
    int64_t batchCorrect = 0;
    for (int64_t i = 0; i < count; ++i) {
      const float *row = logits + i * classes;
      int64_t best = 0;
      for (int64_t c = 1; c < classes; ++c) {
        if (row[c] > row[best])
          best = c;
      }
      batchCorrect += best == labels[start + i];
    }
    correct += batchCorrect;
    if (count == batch) {
      float loss = 0;
      int64_t right = 0;
      if (failed(kiln_model_eval_step(model, input, labels + start, &loss,
                                      &right, NULL)))
        return 1;
      lossSum += loss;
      evalCorrect += right;
      fullCorrect += batchCorrect;
      ++fullBatches;
    }
  }
  printf("accuracy: %.4f\n", (double)correct / (double)size);
  if (fullBatches > 0)
    printf("eval_step: mean loss %.4f, %lld correct in %lld full batches\n",
           lossSum / (double)fullBatches, (long long)evalCorrect,
           (long long)fullBatches);
  free(input);
  free(logits);
  if (evalCorrect != fullCorrect) {
    fprintf(stderr, "classify: eval_step counted %lld correct, predict %lld\n",
            (long long)evalCorrect, (long long)fullCorrect);
    return 1;
  }
  return 0;
}

/* 50 steps over the first 10 batches of the training set, five times over:
 * the mean loss of each pass over the same images must fall. */
static int train(kiln_model *model, const kiln_dataset *data) {
  const int64_t batch = kiln_model_batch_size(model, "train_step");
  const int64_t pixels = 1 * 32 * 32, batchesPerPass = 10;
  if (batch == 0) {
    fprintf(stderr, "classify: this lenet.o has no train_step; compile it "
                    "with kiln compile --aot --train\n");
    return 1;
  }
  double sum = 0;
  for (int64_t step = 0; step < 50; ++step) {
    const int64_t first = (step % batchesPerPass) * batch;
    float loss = 0;
    if (failed(kiln_model_train_step(model,
                                     kiln_dataset_images(data) + first * pixels,
                                     kiln_dataset_labels(data) + first, &loss)))
      return 1;
    sum += loss;
    if ((step + 1) % batchesPerPass == 0) {
      printf("step %lld  loss %.4f\n", (long long)(step + 1),
             sum / (double)batchesPerPass);
      sum = 0;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *dataDir = NULL;
  int cuda = 0;
  for (int i = 3; i < argc; ++i) {
    if (strcmp(argv[i], "--cuda") == 0)
      cuda = 1;
    else
      dataDir = argv[i];
  }
  if (argc < 3 || (strcmp(argv[1], "eval") && strcmp(argv[1], "train"))) {
    fprintf(stderr, "usage: classify eval|train WEIGHTS [DATA_DIR] [--cuda]\n");
    return 2;
  }
  const int training = strcmp(argv[1], "train") == 0;
  kiln_model *model = NULL;
#ifdef LENET_CUDA
  /* The object was compiled with --target cuda: it can run on the GPU. */
  kiln_status created =
      cuda ? lenet_create_cuda(&model, 0) : lenet_create(&model);
#else
  if (cuda) {
    fprintf(stderr, "classify: this lenet.o has no CUDA kernels; compile it "
                    "with kiln compile --aot --target cuda\n");
    return 2;
  }
  kiln_status created = lenet_create(&model);
#endif
  if (failed(created) || failed(kiln_model_load_weights(model, argv[2])))
    return 1;
  printf("device: %s\n", kiln_model_device(model));
  kiln_dataset *data = NULL;
  if (failed(kiln_dataset_load_fashion_mnist(dataDir, training, &data)))
    return 1;
  int result = training ? train(model, data) : evaluate(model, data);
  kiln_dataset_destroy(data);
  kiln_model_destroy(model);
  return result;
}
