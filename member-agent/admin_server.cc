#include "member-agent/admin_server.h"

#include <cpprest/http_listener.h>
#include <cpprest/uri.h>

namespace berth::agent {

namespace http = web::http;

struct AdminServer::Impl {
  std::unique_ptr<http::experimental::listener::http_listener> listener;
  AdminHandler handler;
};

StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(const std::string& listen,
                                                          AdminHandler handler) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return Status::Invalid("--admin-listen \"" + listen +
                           "\": expected HOST:PORT, e.g. 127.0.0.1:9464");
  }
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  try {
    impl->listener =
        std::make_unique<http::experimental::listener::http_listener>(web::uri("http://" + listen));
    Impl* raw = impl.get();
    impl->listener->support([raw](http::http_request request) {
      AdminRequest req;
      req.method = request.method();
      req.path = web::uri::decode(request.relative_uri().path());
      for (const auto& [k, v] : web::uri::split_query(request.relative_uri().query())) {
        req.query[web::uri::decode(k)] = web::uri::decode(v);
      }
      AdminResponse resp;
      try {
        resp = raw->handler(req);
      } catch (const std::exception& e) {
        resp = {500, "text/plain", std::string("internal error: ") + e.what()};
      }
      http::http_response r(static_cast<http::status_code>(resp.status));
      r.set_body(resp.body, resp.content_type);
      request.reply(r).then([](pplx::task<void> t) {
        try {
          t.get();
        } catch (...) {  // client went away; nothing to do
        }
      });
    });
    impl->listener->open().wait();
  } catch (const std::exception& e) {
    return Status::Unavailable("--admin-listen " + listen + ": " + e.what());
  }
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() {
  try {
    impl_->listener->close().wait();
  } catch (...) {
  }
}

}  // namespace berth::agent
