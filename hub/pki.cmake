# Hub PKI bootstrap (OpenSSL only) and the TLS setup for the hub's HTTPS listener
# (Boost.Asio ssl; a separate library so pki.h users never see Boost).
berth_library(NAME berth_pki
  SRCS ${CMAKE_CURRENT_SOURCE_DIR}/pki.cc
  DEPS berth_api berth_kubeconfig OpenSSL::SSL OpenSSL::Crypto)

berth_library(NAME berth_hub_tls
  SRCS ${CMAKE_CURRENT_SOURCE_DIR}/tls_listener.cc
  DEPS berth_api cpprestsdk::cpprest OpenSSL::SSL OpenSSL::Crypto)

if(BERTH_BUILD_TESTS)
  berth_test(NAME hub_pki_test
    SRCS ${CMAKE_CURRENT_SOURCE_DIR}/pki_test.cc
    DEPS berth_pki OpenSSL::SSL OpenSSL::Crypto)
endif()
