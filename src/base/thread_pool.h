#pragma once
// A fixed set of worker threads for data-parallel loops. parallel_for blocks
// until every task is done; the calling thread works too. Not reentrant: one
// parallel_for at a time per pool (the engine loop is single-threaded).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pagoda {

class ThreadPool {
 public:
  // n_threads <= 0 means all hardware threads.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(task, thread_index) for every task in [0, n_tasks), spread over the
  // threads. thread_index < size() identifies per-thread scratch space.
  // Results must not depend on which thread ran which task. If a task throws,
  // the remaining tasks are skipped and the first exception is rethrown here.
  void parallel_for(int64_t n_tasks, const std::function<void(int64_t task, int thread)>& fn);

  // Splits [0, n) into contiguous ranges of at least `grain` items and calls
  // fn(begin, end, thread_index) for each.
  void parallel_range(int64_t n, int64_t grain,
                      const std::function<void(int64_t begin, int64_t end, int thread)>& fn);

 private:
  void worker(int index);
  void run_tasks(int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(int64_t, int)>* job_ = nullptr;
  int64_t n_tasks_ = 0;
  std::atomic<int64_t> next_task_{0};  // the next task to claim; past n_tasks_ when all are
  int64_t generation_ = 0;
  int busy_ = 0;
  // Mirrors of generation_ and busy_ (written under the lock), read without it while a thread
  // polls before sleeping.
  std::atomic<int64_t> published_generation_{0};
  std::atomic<int> running_{0};
  bool stop_ = false;
  std::exception_ptr error_;
};

// Number of hardware threads available to this process (>= 1).
int hardware_threads();

}  // namespace pagoda
