// The C allocator's policy for training. LibTorch allocates its large tensors (logits, activations,
// gradients: tens to hundreds of MB each, every step) with malloc, which by default maps each one freshly
// from the kernel and unmaps it when freed, so every step faults in and zeroes the same memory again
// (measured: a third of a training step's CPU time in the kernel; docs/benchmarks.md). Keeping freed memory
// in the process for reuse removes that. Pure C++.
#pragma once

namespace coordexp {

// Asks glibc's malloc to serve large blocks from its heap and keep what is freed (M_MMAP_MAX 0, no trimming
// of the heap's top), so that a training loop's step-sized buffers are reused instead of mapped anew. The
// resident size then stays at the loop's peak instead of falling between steps. Returns false (and does
// nothing) where the C library is not glibc.
bool keep_freed_memory_for_reuse();

}  // namespace coordexp
