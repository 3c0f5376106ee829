// PILLOW_L3C_INLINE: for the few small functions of the per-symbol loops. The
// compiler's own inlining limits sometimes leave them as calls, which costs more
// than their bodies and stops the loops from overlapping the work of two symbols.
#pragma once

#if defined(_MSC_VER)
#define PILLOW_L3C_INLINE __forceinline
#elif defined(__GNUC__)
#define PILLOW_L3C_INLINE inline __attribute__((always_inline))
#else
#define PILLOW_L3C_INLINE inline
#endif
