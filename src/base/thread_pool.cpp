#include "base/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <utility>

namespace pagoda {

int hardware_threads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads > 0 ? n_threads : hardware_threads()) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_tasks(int thread) {
  for (;;) {
    // A claim is one atomic add: job_ and n_tasks_ were written under the lock this thread
    // joined its generation under, and stay until the generation ends (worker()). A lock per
    // claim cost 4-9% of 16-sequence decode (BENCHMARKS.md).
    const int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n_tasks_) return;
    try {
      (*job_)(task, thread);
    } catch (...) {
      // Hand the first failure to the caller of parallel_for; skip the remaining tasks.
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
      next_task_.store(n_tasks_, std::memory_order_relaxed);
    }
  }
}

namespace {

// How long a thread polls before it sleeps on a condition variable: a decode step's loops come
// tens of microseconds apart, and waking a sleeping thread costs about as much on a VM.
constexpr auto kSpin = std::chrono::microseconds(50);

// Polls `done` with pause instructions for up to kSpin; true if it became true.
template <typename Done>
bool spin_until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if ((i & 255) == 255 && std::chrono::steady_clock::now() > deadline) return false;
  }
}

}  // namespace

void ThreadPool::worker(int index) {
  int64_t seen = 0;
  for (;;) {
    spin_until([&] { return published_generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock lock(mutex_);
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      // A generation whose tasks are all claimed may be over already: joining it late would run
      // run_tasks while the next parallel_for sets up its job. (Joiners of a generation with
      // tasks left hold it open through busy_, so it cannot end under them.)
      if (next_task_.load(std::memory_order_relaxed) >= n_tasks_) continue;
      ++busy_;
      running_.store(busy_, std::memory_order_release);
    }
    run_tasks(index);
    {
      std::lock_guard lock(mutex_);
      --busy_;
      running_.store(busy_, std::memory_order_release);
    }
    done_cv_.notify_all();
  }
}

void ThreadPool::parallel_for(int64_t n_tasks, const std::function<void(int64_t, int)>& fn) {
  if (n_tasks <= 0) return;
  if (n_threads_ == 1 || n_tasks == 1) {  // exceptions propagate directly
    for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    job_ = &fn;
    n_tasks_ = n_tasks;
    next_task_.store(0, std::memory_order_relaxed);
    error_ = nullptr;
    ++generation_;
    published_generation_.store(generation_, std::memory_order_release);
  }
  start_cv_.notify_all();
  run_tasks(0);
  // Workers that joined finish soon: poll before sleeping. (A worker that has not joined yet
  // finds no task left and leaves at once.)
  spin_until([&] { return running_.load(std::memory_order_acquire) == 0; });
  std::unique_lock lock(mutex_);
  done_cv_.wait(lock, [&] { return busy_ == 0 && next_task_.load(std::memory_order_relaxed) >= n_tasks_; });
  job_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void ThreadPool::parallel_range(int64_t n, int64_t grain,
                                const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  // A few chunks per thread balance uneven work without much locking.
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t{n_threads_} * 4);
  chunks = std::max<int64_t>(chunks, 1);
  const int64_t per = (n + chunks - 1) / chunks;
  parallel_for(chunks, [&](int64_t c, int thread) {
    int64_t b = c * per, e = std::min(n, b + per);
    if (b < e) fn(b, e, thread);
  });
}

}  // namespace pagoda
