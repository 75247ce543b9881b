#include "tests/support/bench_clients.h"

#include <cstdlib>
#include <utility>  // before asio (via threadpool.h), which uses std::exchange

#include <pplx/threadpool.h>

namespace berth::testing {

void PrepareBenchClients(int io_threads) {
  ::setenv("SSL_CERT_FILE", kNoSystemTrust, 1);
  ::setenv("SSL_CERT_DIR", kNoSystemTrust, 1);
  if (io_threads > 0) crossplat::threadpool::initialize_with_threads(io_threads);
}

}  // namespace berth::testing
