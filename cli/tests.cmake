# Unit tests of berthctl's pure pieces (views, parsing), compiled with their sources.
berth_test(NAME cli_rollout_view_test SRCS rollout_view.cc rollout_view_test.cc
           DEPS nlohmann_json::nlohmann_json)
target_include_directories(cli_rollout_view_test PRIVATE ${PROJECT_SOURCE_DIR})
