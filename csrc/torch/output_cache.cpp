// The cache of large CPU output blocks (output_cache.h).
#include "output_cache.h"

#include <c10/core/CPUAllocator.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace spikeops {
namespace {

constexpr size_t kHugePage = 2u << 20;

struct Block {
  void* data;
  size_t bytes;
};

class OutputCache {
 public:
  OutputCache() : limit_(read_limit()) {}

  int64_t limit() const { return limit_; }

  Block take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (size_t i = 0; i < free_.size(); ++i) {
        if (free_[i].bytes == bytes) {
          const Block b = free_[i];
          free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(i));
          free_bytes_ -= static_cast<int64_t>(bytes);
          return b;
        }
      }
    }
    void* data = std::aligned_alloc(kHugePage, bytes);
    TORCH_CHECK(data != nullptr, "spikeops: out of memory allocating an output of ", bytes, " bytes");
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // Before the first touch: one fault per 2 MiB instead of 512 (bench/NOTES.md).
    madvise(data, bytes, MADV_HUGEPAGE);
#endif
    return {data, bytes};
  }

  void give_back(Block b) {
    std::vector<Block> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      free_.push_back(b);
      free_bytes_ += static_cast<int64_t>(b.bytes);
      while (free_bytes_ > limit_ && !free_.empty()) {  // the oldest first
        evicted.push_back(free_.front());
        free_bytes_ -= static_cast<int64_t>(free_.front().bytes);
        free_.erase(free_.begin());
      }
    }
    for (const Block& e : evicted) std::free(e.data);
  }

  void release() {
    std::vector<Block> all;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      all.swap(free_);
      free_bytes_ = 0;
    }
    for (const Block& e : all) std::free(e.data);
  }

  int64_t free_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return free_bytes_;
  }

 private:
  static int64_t read_limit() {
    const char* env = std::getenv("SPIKEOPS_CPU_CACHE_MB");
    if (env == nullptr || *env == '\0') return int64_t{1024} << 20;
    char* end = nullptr;
    const long long mb = std::strtoll(env, &end, 10);
    TORCH_CHECK_VALUE(end != env && *end == '\0' && mb >= 0,
                      "SPIKEOPS_CPU_CACHE_MB must be a number of MiB >= 0, got '", env, "'");
    return static_cast<int64_t>(mb) << 20;
  }

  std::mutex mutex_;
  std::vector<Block> free_;  // in the order they were given back
  int64_t free_bytes_ = 0;
  const int64_t limit_;
};

// Never destroyed: tensors holding blocks may outlive static destruction.
OutputCache& cache() {
  static OutputCache* c = new OutputCache();
  return *c;
}

void return_block(void* ctx) {
  Block* b = static_cast<Block*>(ctx);
  cache().give_back(*b);
  delete b;
}

}  // namespace

at::Tensor empty_output(c10::SymIntArrayRef sizes, const at::TensorOptions& opts) {
  const auto concrete = c10::asIntArrayRefSlowOpt(sizes);
  if (!opts.device().is_cpu() || !concrete.has_value() || cache().limit() == 0)
    return at::empty_symint(sizes, opts);
  const int64_t bytes = c10::multiply_integers(*concrete) * static_cast<int64_t>(c10::elementSize(
                            c10::typeMetaToScalarType(opts.dtype())));
  if (bytes < kMinCachedBytes) return at::empty_symint(sizes, opts);
  const size_t rounded = (static_cast<size_t>(bytes) + kHugePage - 1) / kHugePage * kHugePage;
  Block* b = new Block(cache().take(rounded));
  c10::DataPtr ptr(b->data, b, return_block, c10::Device(c10::kCPU));
  c10::Storage storage(c10::Storage::use_byte_size_t(), static_cast<size_t>(bytes), std::move(ptr),
                       c10::GetCPUAllocator(), /*resizable=*/true);
  return at::empty({0}, opts).set_(storage, 0, *concrete);
}

int64_t output_cache_free_bytes() { return cache().free_bytes(); }
int64_t output_cache_limit_bytes() { return cache().limit(); }
void output_cache_release() { cache().release(); }

}  // namespace spikeops
