#include "gateway/catalog_server.h"

#include <cpprest/http_listener.h>
#include <cpprest/uri.h>

namespace berth::gateway {

namespace http = web::http;

struct CatalogServer::Impl {
  std::unique_ptr<http::experimental::listener::http_listener> listener;
};

StatusOr<std::unique_ptr<CatalogServer>> CatalogServer::Start(const std::string& listen,
                                                              const Catalog* catalog) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->listener =
        std::make_unique<http::experimental::listener::http_listener>(web::uri("http://" + listen));
    impl->listener->support([catalog](http::http_request request) {
      CatalogReply reply;
      try {
        reply = catalog->Handle(request.method(), web::uri::decode(request.relative_uri().path()));
      } catch (const std::exception& e) {
        reply = {500, "text/plain", std::string("internal error: ") + e.what()};
      }
      http::http_response r(static_cast<http::status_code>(reply.status));
      r.set_body(reply.body, reply.content_type);
      request.reply(r).then([](pplx::task<void> t) {
        try {
          t.get();
        } catch (...) {  // the client (HAProxy) went away; nothing to do
        }
      });
    });
    impl->listener->open().wait();
  } catch (const std::exception& e) {
    return Status::Unavailable("--catalog-listen " + listen + ": " + e.what());
  }
  return std::unique_ptr<CatalogServer>(new CatalogServer(std::move(impl)));
}

CatalogServer::CatalogServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CatalogServer::~CatalogServer() {
  try {
    impl_->listener->close().wait();
  } catch (...) {
  }
}

}  // namespace berth::gateway
