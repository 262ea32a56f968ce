/* peak_fma: one core's fp32 FMA peak in GFLOP/s, the denominator of
 * bench/bench_all.py's "kiln %pk". Build with -O2 -march=native: the widest
 * FMA the compiler may use is the peak kiln's vector microkernels could reach.
 * usage: peak_fma   (prints "peak_gflops_per_core=G vector_bits=B") */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */

#include <stdio.h>
#include <time.h>

#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 Vec;
enum { kLanes = 16 };
#define splat(x) _mm512_set1_ps(x)
#define fmadd(a, b, c) _mm512_fmadd_ps(a, b, c)
#define lane0(v) _mm512_cvtss_f32(v)
#elif defined(__FMA__)
#include <immintrin.h>
typedef __m256 Vec;
enum { kLanes = 8 };
#define splat(x) _mm256_set1_ps(x)
#define fmadd(a, b, c) _mm256_fmadd_ps(a, b, c)
#define lane0(v) _mm256_cvtss_f32(v)
#else
typedef float Vec;
enum { kLanes = 1 };
#define splat(x) (x)
#define fmadd(a, b, c) ((a) * (b) + (c))
#define lane0(v) (v)
#endif

/* Independent accumulator chains: two FMA ports with a 4-cycle latency need
 * 8 in flight; 12 leaves headroom and still fits in registers. */
enum { kChains = 12 };

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Runs `iterations` rounds of kChains FMAs; returns the elapsed seconds and
 * stores a lane of the result in *sink so nothing is optimised away. The
 * chains are spelled out so they stay in registers at any -O level. */
static double run(long iterations, float *sink) {
  Vec a0 = splat(1.00f), a1 = splat(1.01f), a2 = splat(1.02f),
      a3 = splat(1.03f), a4 = splat(1.04f), a5 = splat(1.05f),
      a6 = splat(1.06f), a7 = splat(1.07f), a8 = splat(1.08f),
      a9 = splat(1.09f), a10 = splat(1.10f), a11 = splat(1.11f);
  const Vec m = splat(0.999999f), b = splat(1e-7f);
  double start = seconds();
  for (long i = 0; i < iterations; ++i) {
    a0 = fmadd(a0, m, b), a1 = fmadd(a1, m, b), a2 = fmadd(a2, m, b);
    a3 = fmadd(a3, m, b), a4 = fmadd(a4, m, b), a5 = fmadd(a5, m, b);
    a6 = fmadd(a6, m, b), a7 = fmadd(a7, m, b), a8 = fmadd(a8, m, b);
    a9 = fmadd(a9, m, b), a10 = fmadd(a10, m, b), a11 = fmadd(a11, m, b);
  }
  double elapsed = seconds() - start;
  *sink = lane0(a0) + lane0(a1) + lane0(a2) + lane0(a3) + lane0(a4) +
          lane0(a5) + lane0(a6) + lane0(a7) + lane0(a8) + lane0(a9) +
          lane0(a10) + lane0(a11);
  return elapsed;
}

int main(void) {
  float sink = 0;
  long iterations = 1L << 20;
  while (run(iterations, &sink) < 0.05) /* about 0.05 s a try */
    iterations *= 2;
  double best = 1e30;
  for (int repeat = 0; repeat < 5; ++repeat) {
    double t = run(iterations, &sink);
    if (t < best)
      best = t;
  }
  double flops = 2.0 * kLanes * kChains * (double)iterations;
  printf("peak_gflops_per_core=%.1f vector_bits=%d\n", flops / best / 1e9,
         32 * kLanes);
  return sink == 12345.0f; /* never: keeps sink live */
}
