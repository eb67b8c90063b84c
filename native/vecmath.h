// Vectorisable float32 helpers shared by the CPU kernels of logprob.cc and fused.cc: per-CPU clones of the loops
// (BFPO_ROW_KERNEL), exp in plain arithmetic the compiler vectorises, and loads/stores of float32 and bfloat16
// elements computed in float32. Everything is in an anonymous namespace: each file that includes it has its own copy.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

// Row loops are compiled for AVX-512 and AVX2+FMA as well as the baseline, and the loader picks the widest
// this CPU runs (GCC function multiversioning). Their reductions are `omp simd` loops (vectorised in float32 lanes,
// without fast-math).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BFPO_ROW_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), noinline))
#else
#define BFPO_ROW_KERNEL __attribute__((noinline))
#endif
// Everything a row kernel calls is inlined into it, so each clone runs its own code, not the baseline's.
#define BFPO_INLINE inline __attribute__((always_inline))

namespace bfpo {
namespace {

BFPO_INLINE float Bits2Float(uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }
BFPO_INLINE uint32_t Float2Bits(float f) { uint32_t b; std::memcpy(&b, &f, 4); return b; }

// exp(x) for x <= 0 (larger x is clamped to 88, exp(88) = 1.65e38), in plain arithmetic the compiler vectorises: x = n ln2 + r,
// |r| <= ln2 / 2, exp(r) by Cephes' expf polynomial (about 1 ulp), 2^n built in the exponent bits. Below -87.3
// (where exp(x) is under float32's smallest normal) the result is 0; NaN stays NaN.
BFPO_INLINE float Exp(float x) {
  const float flushed = x < -87.3f ? 1.0f : 0.0f;
  float c = x < -87.3f ? -87.3f : x;
  c = c > 88.0f ? 88.0f : c;
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds to the nearest integer
  const float n = (c * 1.44269504088896341f + magic) - magic;
  float r = c - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const float scale = Bits2Float(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23);
  const float e = p * scale;
  return flushed != 0.0f ? 0.0f : e;
}

// Loads element j of a row as float32: float32 as is, bfloat16 (its raw 16 bits) shifted into a float's high half.
BFPO_INLINE float Load(const float* x, int64_t j) { return x[j]; }
BFPO_INLINE float Load(const uint16_t* x, int64_t j) { return Bits2Float(static_cast<uint32_t>(x[j]) << 16); }

BFPO_INLINE void Store(float* y, int64_t j, float v) { y[j] = v; }
// float32 to bfloat16, rounding to nearest even, NaN kept as a quiet NaN: c10::BFloat16's own conversion.
BFPO_INLINE void Store(uint16_t* y, int64_t j, float v) {
  const uint32_t b = Float2Bits(v);
  const uint32_t rounded = (b + (((b >> 16) & 1u) + 0x7FFFu)) >> 16;
  y[j] = v != v ? static_cast<uint16_t>(0x7FC0u) : static_cast<uint16_t>(rounded);
}

// max(m, x[0..n)), over four quarters at once: four independent maxima, not one long chain of compares.
BFPO_INLINE float MaxOf(const float* x, int64_t n, float m0) {
  const int64_t q = n / 4;
  float m1 = -INFINITY, m2 = -INFINITY, m3 = -INFINITY;
#pragma omp simd reduction(max : m0, m1, m2, m3)
  for (int64_t j = 0; j < q; j++) {
    m0 = x[j] > m0 ? x[j] : m0;
    m1 = x[j + q] > m1 ? x[j + q] : m1;
    m2 = x[j + 2 * q] > m2 ? x[j + 2 * q] : m2;
    m3 = x[j + 3 * q] > m3 ? x[j + 3 * q] : m3;
  }
  for (int64_t j = 4 * q; j < n; j++) m0 = x[j] > m0 ? x[j] : m0;
  m0 = m1 > m0 ? m1 : m0;
  m2 = m3 > m2 ? m3 : m2;
  return m2 > m0 ? m2 : m0;
}

// 1 / (1 + exp(-v)), from exp of -|v| only (never overflows); NaN stays NaN.
BFPO_INLINE float Sigmoid(float v) {
  const float e = Exp(v < 0.0f ? v : -v);
  const float r = 1.0f / (1.0f + e);
  return v < 0.0f ? e * r : r;
}

}  // namespace
}  // namespace bfpo
