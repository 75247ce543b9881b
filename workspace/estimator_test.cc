// Table tests of the estimator against public sizing facts (docs/WORKSPACE.md).
#include "workspace/estimator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>

namespace berth::workspace {
namespace {

using ::testing::HasSubstr;

ModelInfo Model(const std::string& name) {
  auto m = Catalog::BuiltIn().FindModel(name);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : ModelInfo{};
}

GpuShape Shape(const std::string& gpu, int per_node, const std::string& mig = "") {
  auto g = Catalog::BuiltIn().FindGpu(gpu);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  GpuShape s{g->name, g->memory_gib, per_node, mig};
  if (!mig.empty()) s.memory_gib = *MigProfileMemoryGib(mig);
  return s;
}

struct FitCase {
  std::string model;
  std::string gpu;
  int gpus_per_node;
  int want_gpus_per_node;  // GPUs one replica takes per node
  int want_nodes;
  ParallelLayout want_layout;
};

class EstimatorFitTest : public ::testing::TestWithParam<FitCase> {};

TEST_P(EstimatorFitTest, SmallestReplica) {
  const FitCase& c = GetParam();
  auto est = EstimateReplica(Model(c.model), Shape(c.gpu, c.gpus_per_node));
  ASSERT_TRUE(est.ok()) << est.status().ToString();
  EXPECT_EQ(est->gpus_per_node, c.want_gpus_per_node);
  EXPECT_EQ(est->nodes, c.want_nodes);
  EXPECT_EQ(est->layout, c.want_layout);
  EXPECT_EQ(est->tensor_parallel, c.want_gpus_per_node);
  EXPECT_EQ(est->pipeline_parallel, c.want_nodes);
  EXPECT_GE(est->headroom_gib, 0);
  EXPECT_GT(est->available_gib, est->model_gib);
  EXPECT_TRUE(est->warnings.empty());
}

INSTANTIATE_TEST_SUITE_P(
    PublicFacts, EstimatorFitTest,
    ::testing::Values(
        // Llama-3.3-70B: 3 nodes of 1×A100-80GB, or 1 node of 4×A100-80GB.
        FitCase{"llama-3.3-70b-instruct", "A100-80GB", 1, 1, 3, ParallelLayout::kPipelineParallel},
        FitCase{"llama-3.3-70b-instruct", "A100-80GB", 4, 4, 1, ParallelLayout::kTensorParallel},
        // On an 8-GPU node it still takes only 4 GPUs (two replicas per node).
        FitCase{"llama-3.3-70b-instruct", "A100-80GB", 8, 4, 1, ParallelLayout::kTensorParallel},
        // DeepSeek-R1-0528: 2 nodes of 8×H100-80GB, or 1 node of 8×H200.
        FitCase{"deepseek-r1-0528", "H100-80GB", 8, 8, 2, ParallelLayout::kPipelineParallel},
        FitCase{"deepseek-r1-0528", "H200", 8, 8, 1, ParallelLayout::kTensorParallel},
        // Phi-4-mini fits one A10 (with A10's lower 0.82 utilization).
        FitCase{"phi-4-mini-instruct", "A10", 1, 1, 1, ParallelLayout::kSingleGpu},
        FitCase{"phi-4-mini-instruct", "A10", 2, 1, 1, ParallelLayout::kSingleGpu},
        FitCase{"llama-3.1-8b-instruct", "A100-80GB", 8, 1, 1, ParallelLayout::kSingleGpu},
        FitCase{"llama-3.1-8b-instruct", "T4", 4, 2, 1, ParallelLayout::kTensorParallel},
        FitCase{"qwen2.5-coder-32b-instruct", "L40S", 4, 2, 1, ParallelLayout::kTensorParallel},
        // gpt-oss-120b (121.5 GiB): 3 H100s by the formula -> TP 4; 2 H200s.
        FitCase{"gpt-oss-120b", "H100-80GB", 8, 4, 1, ParallelLayout::kTensorParallel},
        FitCase{"gpt-oss-120b", "H200", 8, 2, 1, ParallelLayout::kTensorParallel}),
    [](const ::testing::TestParamInfo<FitCase>& info) {
      std::string name =
          info.param.model + "_" + info.param.gpu + "_x" + std::to_string(info.param.gpus_per_node);
      for (auto& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(EstimatorTest, SmallModelsPackSeveralReplicasPerNode) {
  auto est = EstimateReplica(Model("llama-3.1-8b-instruct"), Shape("A100-80GB", 8));
  ASSERT_TRUE(est.ok());
  EXPECT_EQ(est->replicas_per_node, 8);
  auto big = EstimateReplica(Model("llama-3.3-70b-instruct"), Shape("A100-80GB", 8));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->replicas_per_node, 2);
}

TEST(EstimatorTest, AbsurdWeightsAreRefusedNotOverflowed) {
  // Found by fuzz_workspace: 3e63 GiB of weights made the GPU count overflow an int (UB).
  ModelInfo huge = Model("llama-3.1-8b-instruct");
  huge.weights_gib = 3e63;
  auto est = EstimateReplica(huge, Shape("A100-80GB", 8));
  EXPECT_FALSE(est.ok());
}

TEST(EstimatorTest, KaitoNumbersForLlama70bOnA100) {
  // Hand-computed from KAITO's formula: model = 131.42 × 1.02; usable = 80 × 0.84;
  // reserve on TP4 = 2.3 + 2048 × 327680 B / 4; avail = (usable − reserve) / 1.05.
  auto est = EstimateReplica(Model("llama-3.3-70b-instruct"), Shape("A100-80GB", 4));
  ASSERT_TRUE(est.ok());
  const double model = 131.42 * 1.02;
  const double reserve = 2.3 + 2048.0 * 327680 / (1 << 30) / 4;
  const double avail = (80 * 0.84 - reserve) / 1.05;
  EXPECT_NEAR(est->model_gib, model, 1e-9);
  EXPECT_NEAR(est->available_gib, avail * 4, 1e-9);
  EXPECT_NEAR(est->headroom_gib, avail * 4 - model, 1e-9);
  EXPECT_DOUBLE_EQ(est->gpu_memory_utilization, 0.84);
}

TEST(EstimatorTest, A10UsesLowerUtilization) {
  auto est = EstimateReplica(Model("phi-4-mini-instruct"), Shape("A10", 1));
  ASSERT_TRUE(est.ok());
  EXPECT_DOUBLE_EQ(est->gpu_memory_utilization, 0.82);
  auto a10g = EstimateReplica(Model("phi-4-mini-instruct"), Shape("A10G", 1));
  ASSERT_TRUE(a10g.ok());
  EXPECT_DOUBLE_EQ(a10g->gpu_memory_utilization, 0.84);
}

TEST(EstimatorTest, MigSliceTooSmallForA7bModelSaysWhy) {
  auto est = EstimateReplica(Model("mistral-7b-instruct"), Shape("A100-80GB", 7, "1g.10gb"));
  ASSERT_FALSE(est.ok());
  EXPECT_EQ(est.status().code(), StatusCode::kInvalid);
  EXPECT_THAT(est.status().message(),
              HasSubstr("MIG slice cannot span nodes or be tensor-parallel"));
  EXPECT_THAT(est.status().message(), HasSubstr("1g.10gb"));
  EXPECT_THAT(est.status().message(), HasSubstr("needs 14.5 GiB"));
}

TEST(EstimatorTest, SmallModelFitsALargerMigSlice) {
  auto est = EstimateReplica(Model("phi-4-mini-instruct"), Shape("A100-80GB", 2, "3g.40gb"));
  ASSERT_TRUE(est.ok()) << est.status().ToString();
  EXPECT_EQ(est->gpus_per_node, 1);
  EXPECT_EQ(est->nodes, 1);
  EXPECT_EQ(est->replicas_per_node, 2);
}

TEST(EstimatorTest, MigOverrideAboveOneSliceIsRejected) {
  EstimateOptions o;
  o.gpu_count_override = 2;
  auto est = EstimateReplica(Model("phi-4-mini-instruct"), Shape("A100-80GB", 7, "1g.10gb"), o);
  ASSERT_FALSE(est.ok());
  EXPECT_THAT(est.status().message(), HasSubstr("not possible on MIG"));
}

TEST(EstimatorTest, GpuTooSmallForTheReserve) {
  ModelInfo tiny{"tiny", "x/tiny", "X", "none", 0.5, 1 << 20, 1 << 20};
  EstimateOptions o;
  o.max_model_len = 1 << 14;  // 16 GiB of KV for one sequence
  auto est = EstimateReplica(tiny, GpuShape{"T4", 16, 1, ""}, o);
  ASSERT_FALSE(est.ok());
  EXPECT_THAT(est.status().message(), HasSubstr("GPU memory too small"));
  EXPECT_THAT(est.status().message(), HasSubstr("13.4 GiB usable"));
}

TEST(EstimatorTest, TooManyNodesSaysHowFarOff) {
  EstimateOptions o;
  o.max_nodes_per_replica = 2;
  auto est = EstimateReplica(Model("llama-3.3-70b-instruct"), Shape("T4", 4), o);
  ASSERT_FALSE(est.ok());
  EXPECT_THAT(est.status().message(), HasSubstr("needs 140.8 GiB across GPUs"));
  EXPECT_THAT(est.status().message(), HasSubstr("4×16.0 GiB"));
  EXPECT_THAT(est.status().message(), HasSubstr("span 4 nodes, above the limit of 2"));
}

TEST(EstimatorTest, MaxModelLenAboveContextLimitIsRejected) {
  EstimateOptions o;
  o.max_model_len = 200000;
  auto est = EstimateReplica(Model("phi-4"), Shape("A100-80GB", 1), o);
  ASSERT_FALSE(est.ok());
  EXPECT_THAT(est.status().message(), HasSubstr("context limit of 16384"));
}

TEST(EstimatorTest, LongerContextNeedsMoreGpus) {
  EstimateOptions o;
  auto short_ctx = EstimateReplica(Model("llama-3.1-8b-instruct"), Shape("L4", 4), o);
  o.max_model_len = 131072;  // 16 GiB of KV per sequence
  auto long_ctx = EstimateReplica(Model("llama-3.1-8b-instruct"), Shape("L4", 4), o);
  ASSERT_TRUE(short_ctx.ok());
  ASSERT_TRUE(long_ctx.ok());
  EXPECT_EQ(short_ctx->gpus_per_node, 1);
  EXPECT_EQ(long_ctx->gpus_per_node, 2);
}

TEST(EstimatorTest, HeadroomIsConfigurable) {
  // Qwen3.6-35B-A3B-FP8 needs 35.6 GiB; a 48 GiB L40S leaves ~36.4 GiB: fits with
  // KAITO's zero headroom, not with Berth's default 5%.
  EstimateOptions none;
  none.headroom_fraction = 0;
  auto kaito = EstimateReplica(Model("qwen3.6-35b-a3b-fp8"), Shape("L40S", 4), none);
  auto berth = EstimateReplica(Model("qwen3.6-35b-a3b-fp8"), Shape("L40S", 4));
  ASSERT_TRUE(kaito.ok());
  ASSERT_TRUE(berth.ok());
  EXPECT_EQ(kaito->gpus_per_node, 1);
  EXPECT_EQ(berth->gpus_per_node, 2);
}

TEST(EstimatorTest, OverrideBelowEstimateWarns) {
  EstimateOptions o;
  o.gpu_count_override = 2;
  auto est = EstimateReplica(Model("llama-3.3-70b-instruct"), Shape("A100-80GB", 8), o);
  ASSERT_TRUE(est.ok());
  EXPECT_EQ(est->gpus_per_node, 2);
  EXPECT_EQ(est->tensor_parallel, 2);
  EXPECT_LT(est->headroom_gib, 0);
  ASSERT_EQ(est->warnings.size(), 1u);
  EXPECT_THAT(est->warnings[0], HasSubstr("below the estimated 4 GPUs"));
}

TEST(EstimatorTest, OverrideAboveEstimateAndAcrossNodes) {
  EstimateOptions o;
  o.gpu_count_override = 16;
  auto est = EstimateReplica(Model("llama-3.1-8b-instruct"), Shape("H100-80GB", 8), o);
  ASSERT_TRUE(est.ok());
  EXPECT_EQ(est->nodes, 2);
  EXPECT_EQ(est->tensor_parallel, 8);
  EXPECT_TRUE(est->warnings.empty());
  o.gpu_count_override = 12;
  auto bad = EstimateReplica(Model("llama-3.1-8b-instruct"), Shape("H100-80GB", 8), o);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("not a multiple of the 8 GPUs per node"));
}

TEST(EstimatorTest, DtypeAndQuantizationChangeTheSize) {
  const auto model = Model("llama-3.1-8b-instruct");
  EstimateOptions fp32;
  fp32.dtype = "float32";
  EstimateOptions fp8;
  fp8.quantization = "fp8";
  auto base = EstimateReplica(model, Shape("L4", 4));
  auto wide = EstimateReplica(model, Shape("L4", 4), fp32);
  auto narrow = EstimateReplica(model, Shape("L4", 4), fp8);
  ASSERT_TRUE(base.ok() && wide.ok() && narrow.ok());
  EXPECT_NEAR(wide->model_gib, 2 * base->model_gib, 1e-9);
  EXPECT_NEAR(narrow->model_gib, 0.5 * base->model_gib, 1e-9);
  EXPECT_GT(wide->gpus_per_node, base->gpus_per_node);

  EstimateOptions awq;
  awq.quantization = "awq";
  auto bad = EstimateReplica(model, Shape("L4", 4), awq);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("only fp8 can be applied at load time"));
  EstimateOptions bad_dtype;
  bad_dtype.dtype = "int3";
  EXPECT_FALSE(EstimateReplica(model, Shape("L4", 4), bad_dtype).ok());
}

TEST(EstimatorTest, EveryCatalogModelFitsSomeCatalogShape) {
  // The catalog is only useful if each model can be served by some listed shape.
  for (const auto& m : Catalog::BuiltIn().models()) {
    bool fits = false;
    for (const auto& g : Catalog::BuiltIn().gpus()) {
      if (EstimateReplica(m, GpuShape{g.name, g.memory_gib, 8, ""}).ok()) fits = true;
    }
    EXPECT_TRUE(fits) << m.preset;
  }
}

}  // namespace
}  // namespace berth::workspace
