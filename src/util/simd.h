// Which vector width the hot loops run at: AVX2 where the CPU has it (chosen at run time), else
// the baseline of the build (SSE2 on x86-64).
#pragma once

// A loop body written once with GCC vector extensions is compiled twice: inlined into a
// function marked MASKEVAL_AVX2 and into a plain one; wide_vectors() says which to call.
#if defined(__x86_64__) && defined(__GNUC__)
#define MASKEVAL_HAVE_AVX2_CLONES 1
#define MASKEVAL_AVX2 __attribute__((target("avx2")))
#else
#define MASKEVAL_AVX2
#endif
#define MASKEVAL_ALWAYS_INLINE inline __attribute__((always_inline))

namespace maskeval::simd {

// True when the AVX2 versions run: the CPU has AVX2 and they have not been turned off.
bool wide_vectors();
// Turns the AVX2 versions off (false) or back on where the CPU has them (true), so that a test
// can check both against the same oracle. Not for use while other threads count.
void allow_wide_vectors(bool allow);

}  // namespace maskeval::simd
