# Kubeconfig loading/rendering (yaml-cpp only) and the Kubernetes-style REST client
# (cpprestsdk, kept behind a pimpl so rest_client.h stays light).
berth_library(NAME berth_kubeconfig
  SRCS ${CMAKE_CURRENT_SOURCE_DIR}/kubeconfig.cc
  DEPS berth_api yaml-cpp)

berth_library(NAME berth_client
  SRCS ${CMAKE_CURRENT_SOURCE_DIR}/rest_client.cc
  DEPS berth_api berth_kubeconfig nlohmann_json::nlohmann_json
       cpprestsdk::cpprest OpenSSL::SSL OpenSSL::Crypto Threads::Threads)

if(BERTH_BUILD_TESTS)
  berth_test(NAME api_kubeconfig_test
    SRCS ${CMAKE_CURRENT_SOURCE_DIR}/kubeconfig_test.cc
    DEPS berth_kubeconfig)
  # The HTTPS test server uses the hub's PKI to mint its certificates (test-only edge;
  # berth_pki is defined in hub/ and resolved at generate time).
  berth_test(NAME api_rest_client_test
    SRCS ${CMAKE_CURRENT_SOURCE_DIR}/rest_client_test.cc
    DEPS berth_client berth_pki berth_hub_tls)
endif()
