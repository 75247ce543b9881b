# Small helpers in the spirit of absl_cc_library: one call per target, explicit deps.
#
#   berth_library(NAME berth_api SRCS a.cc b.cc DEPS nlohmann_json::nlohmann_json)
#   berth_test(NAME api_codec_test SRCS codec_test.cc DEPS berth_api)
#
# Headers are included from the repository root: #include "api/object.h".

function(berth_library)
  cmake_parse_arguments(B "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${B_NAME} STATIC ${B_SRCS})
  target_include_directories(${B_NAME} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/generated)
  target_link_libraries(${B_NAME} PUBLIC ${B_DEPS})
endfunction()

function(berth_test)
  cmake_parse_arguments(B "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${B_NAME} ${B_SRCS})
  target_link_libraries(${B_NAME} PRIVATE ${B_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  add_test(NAME ${B_NAME} COMMAND ${B_NAME}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${B_NAME} PROPERTIES
    ENVIRONMENT "BERTH_BIN_DIR=${PROJECT_BINARY_DIR}/bin;BERTH_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  if(B_LABELS)
    set_tests_properties(${B_NAME} PROPERTIES LABELS "${B_LABELS}")
  endif()
endfunction()

# The same suite once more with the hub's store on etcd (issue #22; docs/TESTING.md "On etcd"):
# BERTH_TEST_STORE=etcd makes StoreFixture open an EtcdStore on a real etcd member, and
# BERTH_HUB_WRAPPER makes the suites' hub launchers start berth-hub through
# tests/support/berth-hub-on-etcd. Labelled etcd (ctest -L etcd / -LE etcd).
function(berth_etcd_variant NAME)
  cmake_parse_arguments(B "" "TIMEOUT" "COMMAND;LABELS;ENV" ${ARGN})
  add_test(NAME ${NAME}_etcd COMMAND ${B_COMMAND} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  if(NOT B_TIMEOUT)
    set(B_TIMEOUT 300)
  endif()
  set_tests_properties(${NAME}_etcd PROPERTIES
    ENVIRONMENT "BERTH_BIN_DIR=${PROJECT_BINARY_DIR}/bin;BERTH_SOURCE_DIR=${PROJECT_SOURCE_DIR};BERTH_TEST_STORE=etcd;BERTH_HUB_WRAPPER=${PROJECT_SOURCE_DIR}/tests/support/berth-hub-on-etcd;${B_ENV}"
    LABELS "etcd;${B_LABELS}" TIMEOUT ${B_TIMEOUT})
endfunction()

# Embeds a text file as `extern const std::string_view <SYMBOL>;` in a generated .cc,
# so data files (model catalog, schemas) ship inside the binaries.
function(berth_embed_text OUT_VAR SYMBOL FILE)
  set(out ${PROJECT_BINARY_DIR}/generated/embedded_${SYMBOL}.cc)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${FILE} -DOUT=${out} -DSYMBOL=${SYMBOL}
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    DEPENDS ${FILE} ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    COMMENT "Embedding ${FILE}")
  set(${OUT_VAR} ${out} PARENT_SCOPE)
endfunction()

set(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
