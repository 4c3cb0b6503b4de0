// The fiber scheduler behind cuda_emulation.h.
#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "cuda_emulation.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define SPIKEOPS_ASAN_FIBERS 1
#endif

namespace spikeops::cuda::emulation {
namespace {

// Room for a kernel thread's frames with sanitizer redzones (a few KiB at
// most), above a guard page. Kept small: AddressSanitizer clears a stack's
// shadow on every switch to it.
constexpr size_t kStackBytes = 64 << 10;
constexpr size_t kGuardBytes = 4 << 10;

enum class Wait { Running, Block, Warp, Done };

struct Fiber {
  ucontext_t ctx;
  void* stack = nullptr;
  Wait wait = Wait::Running;
  unsigned barriers = 0;  // __syncthreads() passed
  ThreadCoords coords;
};

// Stacks are reused across launches and host threads.
std::mutex stack_pool_mutex;
std::vector<void*> stack_pool;

void* take_stack() {
  {
    std::lock_guard<std::mutex> lock(stack_pool_mutex);
    if (!stack_pool.empty()) {
      void* s = stack_pool.back();
      stack_pool.pop_back();
      return s;
    }
  }
  char* s = static_cast<char*>(
      mmap(nullptr, kGuardBytes + kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (s == MAP_FAILED || mprotect(s, kGuardBytes, PROT_NONE) != 0) {
    std::fprintf(stderr, "spikeops CUDA emulation: cannot map a fiber stack\n");
    std::abort();
  }
  return s + kGuardBytes;  // an overflowing stack faults on the guard page
}

void give_stack(void* s) {
  std::lock_guard<std::mutex> lock(stack_pool_mutex);
  stack_pool.push_back(s);
}

// Runs the blocks given to one host thread, one block at a time.
class BlockRunner {
 public:
  explicit BlockRunner(const std::function<void()>& body) : body_(body) {}
  ~BlockRunner() {
    for (Fiber& f : fibers_) give_stack(f.stack);
  }

  // False (and error() set) when the block cannot finish.
  bool run(uint3 block_idx, dim3 grid, dim3 block);
  const char* error() const { return error_; }

  void yield(Wait wait);
  void fail(const char* why);
  Fiber& current() { return *current_; }
  uint64_t* warp_slots() { return &slots_[(linear(current_->coords) / kWarpSize) * kWarpSize]; }

  static unsigned linear(const ThreadCoords& c) {
    return c.thread_idx.x + c.block_dim.x * (c.thread_idx.y + c.block_dim.y * c.thread_idx.z);
  }
  static void entry();

 private:
  void switch_to(Fiber& f);
  bool release_waiting();

  const std::function<void()>& body_;
  std::vector<Fiber> fibers_;
  std::vector<uint64_t> slots_;
  unsigned count_ = 0;
  Fiber* current_ = nullptr;
  ucontext_t scheduler_;
  const char* error_ = nullptr;
#ifdef SPIKEOPS_ASAN_FIBERS
 public:
  const void* scheduler_stack_ = nullptr;
  size_t scheduler_stack_size_ = 0;
#endif
};

thread_local BlockRunner* tls_runner = nullptr;
std::atomic<unsigned long long> latest_blocks{0};
// Outside any kernel (host code) there are no coordinates.
const ThreadCoords kNoCoords{};

void BlockRunner::entry() {
  BlockRunner& r = *tls_runner;
#ifdef SPIKEOPS_ASAN_FIBERS
  __sanitizer_finish_switch_fiber(nullptr, &r.scheduler_stack_, &r.scheduler_stack_size_);
#endif
  r.body_();
  r.current_->wait = Wait::Done;
#ifdef SPIKEOPS_ASAN_FIBERS
  __sanitizer_start_switch_fiber(nullptr, r.scheduler_stack_, r.scheduler_stack_size_);
#endif
  // Returning resumes uc_link, the scheduler.
}

void BlockRunner::switch_to(Fiber& f) {
  current_ = &f;
#ifdef SPIKEOPS_ASAN_FIBERS
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, f.stack, kStackBytes);
#endif
  swapcontext(&scheduler_, &f.ctx);
#ifdef SPIKEOPS_ASAN_FIBERS
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  current_ = nullptr;
}

void BlockRunner::yield(Wait wait) {
  Fiber& f = *current_;
  f.wait = wait;
#ifdef SPIKEOPS_ASAN_FIBERS
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, scheduler_stack_, scheduler_stack_size_);
#endif
  swapcontext(&f.ctx, &scheduler_);
#ifdef SPIKEOPS_ASAN_FIBERS
  __sanitizer_finish_switch_fiber(fake_stack, &scheduler_stack_, &scheduler_stack_size_);
#endif
}

void BlockRunner::fail(const char* why) {
  if (error_ == nullptr) error_ = why;
  // Parked for good: the scheduler sees the error and abandons the block.
  for (;;) yield(Wait::Done);
}

// Wakes every warp whose live lanes all wait at a shuffle, else the whole block
// when every live thread waits at __syncthreads(). False when nothing can run.
bool BlockRunner::release_waiting() {
  bool released = false;
  for (unsigned w = 0; w * kWarpSize < count_; ++w) {
    const unsigned begin = w * kWarpSize, end = std::min(count_, begin + kWarpSize);
    bool any = false, all = true;
    for (unsigned i = begin; i < end; ++i) {
      if (fibers_[i].wait == Wait::Done) continue;
      any = true;
      all = all && fibers_[i].wait == Wait::Warp;
    }
    if (any && all) {
      for (unsigned i = begin; i < end; ++i)
        if (fibers_[i].wait == Wait::Warp) fibers_[i].wait = Wait::Running;
      released = true;
    }
  }
  if (released) return true;
  bool any = false;
  for (unsigned i = 0; i < count_; ++i) {
    if (fibers_[i].wait == Wait::Done) continue;
    if (fibers_[i].wait != Wait::Block) return false;
    any = true;
  }
  for (unsigned i = 0; i < count_; ++i) {
    if (fibers_[i].wait != Wait::Block) continue;
    fibers_[i].wait = Wait::Running;
    ++fibers_[i].barriers;
  }
  return any;
}

bool BlockRunner::run(uint3 block_idx, dim3 grid, dim3 block) {
  count_ = block.x * block.y * block.z;
  while (fibers_.size() < count_) {
    fibers_.emplace_back();
    fibers_.back().stack = take_stack();
  }
  slots_.assign((count_ + kWarpSize - 1) / kWarpSize * kWarpSize, 0);
  ucontext_t start;
  getcontext(&start);
  for (unsigned i = 0; i < count_; ++i) {
    Fiber& f = fibers_[i];
    f.coords = ThreadCoords{uint3{i % block.x, (i / block.x) % block.y, i / (block.x * block.y)}, block_idx, block,
                            grid};
    f.wait = Wait::Running;
    f.barriers = 0;
    f.ctx = start;
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = kStackBytes;
    f.ctx.uc_link = &scheduler_;
    makecontext(&f.ctx, &BlockRunner::entry, 0);
  }
  for (;;) {
    for (unsigned i = 0; i < count_ && error_ == nullptr; ++i)
      if (fibers_[i].wait == Wait::Running) switch_to(fibers_[i]);
    if (error_ != nullptr) return false;
    const bool finished = std::all_of(fibers_.begin(), fibers_.begin() + count_,
                                      [](const Fiber& f) { return f.wait == Wait::Done; });
    if (finished) {
      // CUDA requires every thread of a block to reach each __syncthreads().
      const bool uniform = std::all_of(fibers_.begin(), fibers_.begin() + count_,
                                       [&](const Fiber& f) { return f.barriers == fibers_[0].barriers; });
      if (!uniform) error_ = "threads of a block passed different numbers of __syncthreads() (divergent barrier)";
      return uniform;
    }
    if (!release_waiting()) {
      error_ = "deadlock: threads of a block wait at different barriers (__syncthreads in divergent code?)";
      return false;
    }
  }
}

}  // namespace

const ThreadCoords& coords() {
  BlockRunner* r = tls_runner;
  return r != nullptr ? r->current().coords : kNoCoords;
}

void sync_block() { tls_runner->yield(Wait::Block); }

void sync_warp(unsigned mask) {
  BlockRunner& r = *tls_runner;
  const ThreadCoords& c = r.current().coords;
  const unsigned count = c.block_dim.x * c.block_dim.y * c.block_dim.z;
  const unsigned warp_begin = BlockRunner::linear(c) / kWarpSize * kWarpSize;
  if (mask != 0xffffffffu || warp_begin + kWarpSize > count)
    r.fail("only full-warp shuffles (mask 0xffffffff, 32 lanes) are emulated");
  r.yield(Wait::Warp);
}

void* warp_slot(unsigned lane) { return tls_runner->warp_slots() + lane; }

unsigned long long last_launch_blocks() { return latest_blocks; }

cudaError_t run_grid(dim3 grid, dim3 block, const std::function<void()>& thread_body) {
  const uint64_t blocks = uint64_t(grid.x) * grid.y * grid.z;
  const unsigned threads = block.x * block.y * block.z;
  latest_blocks = blocks;
  if (blocks == 0 || threads == 0) return cudaErrorInvalidConfiguration;
  if (threads > 1024) return cudaErrorInvalidConfiguration;
  const unsigned workers = static_cast<unsigned>(
      std::min<uint64_t>(blocks, std::max(1u, std::min(8u, std::thread::hardware_concurrency()))));
  std::vector<const char*> errors(workers, nullptr);
  // Worker w runs blocks w, w + workers, ...; every block is independent.
  auto work = [&](unsigned w) {
    BlockRunner runner(thread_body);
    tls_runner = &runner;
    for (uint64_t b = w; b < blocks && errors[w] == nullptr; b += workers) {
      const uint3 idx{static_cast<unsigned>(b % grid.x), static_cast<unsigned>((b / grid.x) % grid.y),
                      static_cast<unsigned>(b / (uint64_t(grid.x) * grid.y))};
      if (!runner.run(idx, grid, block)) errors[w] = runner.error();
    }
    tls_runner = nullptr;
  };
  std::vector<std::thread> pool;
  for (unsigned w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
  for (const char* e : errors) {
    if (e != nullptr) {
      std::fprintf(stderr, "spikeops CUDA emulation: %s\n", e);
      return cudaErrorLaunchFailure;
    }
  }
  return cudaSuccess;
}

}  // namespace spikeops::cuda::emulation
