// The queue between a store's Submit callers and its one writer thread, shared by the SQLite
// and etcd stores: callers queue mutations, the writer takes them in batches and commits
// each batch as one transaction.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "hub/store.h"

namespace berth::hub {

class MutationQueue {
 public:
  struct Pending {
    Mutation mutation;
    MutationCallback done;
  };

  ~MutationQueue() { FailRemaining(); }

  // Queues the mutation; after Close it is answered Unavailable at once.
  void Submit(Mutation mutation, MutationCallback done) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!closed_) {
        queue_.push_back({std::move(mutation), std::move(done)});
        cv_.notify_one();
        return;
      }
    }
    done(Status::Unavailable("the store is shutting down"));
  }

  // Wakes the writer; Submit refuses from now on.
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

  // The writer's next batch: blocks until something is queued, then takes up to `max`
  // mutations in order, ending the batch early at the first one `fits` refuses (given the
  // batch so far; the first mutation is taken whatever it says, so a batch is never empty
  // while open). Returns an empty batch once closed: at once when `drain` is false (what is
  // left is for FailRemaining), after the queue is empty when it is true.
  std::vector<Pending> Take(size_t max, bool drain,
                            const std::function<bool(const Mutation&)>& fits = {}) {
    std::vector<Pending> batch;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
    if (closed_ && (!drain || queue_.empty())) return batch;
    while (!queue_.empty() && batch.size() < max) {
      if (fits && !fits(queue_.front().mutation) && !batch.empty()) break;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return batch;
  }

  // Answers every mutation still queued Unavailable (a store shutting down). The store calls
  // it once its writer has stopped, while the rest of the store is still alive.
  void FailRemaining() {
    std::deque<Pending> left;
    {
      std::lock_guard<std::mutex> lock(mu_);
      left.swap(queue_);
    }
    for (auto& p : left) RunMutationCallback(p.done, Status::Unavailable("the store is shutting down"));
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // guarded by mu_
  bool closed_ = false;        // guarded by mu_
};

}  // namespace berth::hub
