// The loopback HTTP listener behind HAProxy's berth_catalog backend (cpprestsdk, kept out
// of this header). Handlers only read the Catalog under its mutex: they never block.
#pragma once

#include <memory>
#include <string>

#include "api/status.h"
#include "gateway/catalog.h"

namespace berth::gateway {

class CatalogServer {
 public:
  // Listens on `listen` (HOST:PORT). Unavailable when the port cannot be bound.
  // `catalog` must outlive the server.
  static StatusOr<std::unique_ptr<CatalogServer>> Start(const std::string& listen,
                                                        const Catalog* catalog);
  ~CatalogServer();  // stops listening

 private:
  struct Impl;
  explicit CatalogServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::gateway
