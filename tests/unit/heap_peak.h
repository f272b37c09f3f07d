// Counts the heap the unit tests allocate through operator new, so a test can
// bound the peak memory of one step ("parsing N bytes takes at most 6N").
//
// The counters work once the global operator new and delete are replaced:
// exactly one test file of the binary (parser_test.cpp) defines
// MEMBRANE_COUNT_HEAP before including this header, and that file's copy
// replaces them.
#pragma once

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace membrane::testing {

inline std::atomic<size_t> heapInUse{0};
inline std::atomic<size_t> heapPeak{0};

// The peak of heapInUse from now on is heapPeak; returns the current use.
inline size_t resetHeapPeak() {
  size_t now = heapInUse.load();
  heapPeak.store(now);
  return now;
}

}  // namespace membrane::testing

#ifdef MEMBRANE_COUNT_HEAP
void* operator new(size_t size) {
  void* p = std::malloc(size ? size : 1);
  if (!p) throw std::bad_alloc();
  size_t now = membrane::testing::heapInUse.fetch_add(malloc_usable_size(p)) + malloc_usable_size(p);
  size_t peak = membrane::testing::heapPeak.load();
  while (now > peak && !membrane::testing::heapPeak.compare_exchange_weak(peak, now)) {
  }
  return p;
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept {
  if (!p) return;
  membrane::testing::heapInUse.fetch_sub(malloc_usable_size(p));
  std::free(p);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }
#endif  // MEMBRANE_COUNT_HEAP
