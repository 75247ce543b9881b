#include "workspace/catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace berth::workspace {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CatalogTest, BuiltInLoadsAllModelsAndGpus) {
  const Catalog& c = Catalog::BuiltIn();
  EXPECT_EQ(c.models().size(), 65u);
  EXPECT_EQ(c.gpus().size(), 12u);
  EXPECT_EQ(c.instance_types().size(), 27u);
  std::set<std::string> presets;
  for (const auto& m : c.models()) {
    EXPECT_GT(m.weights_gib, 0) << m.preset;
    EXPECT_GT(m.context_limit, 0) << m.preset;
    EXPECT_GT(m.kv_bytes_per_token, 0) << m.preset;
    EXPECT_NE(m.hf_id.find('/'), std::string::npos) << m.preset;
    presets.insert(m.preset);
  }
  EXPECT_EQ(presets.size(), c.models().size()) << "presets must be unique";
}

TEST(CatalogTest, FindsModelByPresetOrHfIdIgnoringCase) {
  const Catalog& c = Catalog::BuiltIn();
  auto by_preset = c.FindModel("Llama-3.3-70B-Instruct");
  ASSERT_TRUE(by_preset.ok()) << by_preset.status().ToString();
  EXPECT_EQ(by_preset->hf_id, "meta-llama/Llama-3.3-70B-Instruct");
  EXPECT_DOUBLE_EQ(by_preset->weights_gib, 131.42);
  auto by_hf = c.FindModel("deepseek-ai/deepseek-r1-0528");
  ASSERT_TRUE(by_hf.ok());
  EXPECT_EQ(by_hf->preset, "deepseek-r1-0528");
  EXPECT_EQ(by_hf->quantization, "fp8");
  EXPECT_EQ(by_hf->context_limit, 163840);
}

TEST(CatalogTest, UnknownModelSuggestsClosestPresets) {
  auto r = Catalog::BuiltIn().FindModel("llama-3.3-70b-instruc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("did you mean llama-3.3-70b-instruct"));
  auto hf = Catalog::BuiltIn().FindModel("microsoft/phi4");
  ASSERT_FALSE(hf.ok());
  EXPECT_THAT(hf.status().message(), HasSubstr("microsoft/phi-4"));
  auto nothing = Catalog::BuiltIn().FindModel("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
  ASSERT_FALSE(nothing.ok());
  EXPECT_THAT(nothing.status().message(), Not(HasSubstr("did you mean")));
  EXPECT_THAT(nothing.status().message(), HasSubstr("known presets: ")) << "nothing close: list them";
  EXPECT_THAT(nothing.status().message(), HasSubstr("phi-4-mini-instruct"));
  // Was: 4.9 s of CPU for a 1.4 MB name. Long names get no suggestion (and no edit distance).
  auto huge = Catalog::BuiltIn().FindModel(std::string(1 << 20, 'l'));
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(huge.status().message(), Not(HasSubstr("did you mean")));
}

TEST(CatalogTest, FindsGpuByNameOrGfdProduct) {
  const Catalog& c = Catalog::BuiltIn();
  auto a100 = c.FindGpu("a100-80gb");
  ASSERT_TRUE(a100.ok());
  EXPECT_EQ(a100->gfd_product, "NVIDIA-A100-SXM4-80GB");
  EXPECT_TRUE(a100->mig_capable);
  auto h100 = c.FindGpu("NVIDIA-H100-80GB-HBM3");
  ASSERT_TRUE(h100.ok());
  EXPECT_EQ(h100->name, "H100-80GB");
  auto mig = c.FindGpu("NVIDIA-A100-SXM4-80GB-MIG-1g.10gb");
  ASSERT_TRUE(mig.ok());
  EXPECT_EQ(mig->name, "A100-80GB");
  auto t4 = c.FindGpu("Tesla-T4");
  ASSERT_TRUE(t4.ok());
  EXPECT_DOUBLE_EQ(t4->memory_gib, 16);
  EXPECT_FALSE(t4->mig_capable);
  auto typo = c.FindGpu("H10-80GB");
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.status().message(), HasSubstr("H100-80GB"));
}

TEST(CatalogTest, FindsInstanceTypes) {
  auto t = Catalog::BuiltIn().FindInstanceType("standard_nc96ads_a100_v4");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->gpus, 4);
  EXPECT_EQ(t->gpu, "A100-80GB");
  EXPECT_EQ(t->cloud, "azure");
  auto p5 = Catalog::BuiltIn().FindInstanceType("p5.48xlarge");
  ASSERT_TRUE(p5.ok());
  EXPECT_EQ(p5->gpus, 8);
  EXPECT_FALSE(Catalog::BuiltIn().FindInstanceType("p9.48xlarge").ok());
}

TEST(CatalogTest, ParseRejectsBadRowsWithLineNumbers) {
  const char* gpus = "gpu\tgfd_product\tmemory_gib\tcc\tmig_capable\nT4\tTesla-T4\t16\t7.5\tno\n";
  const char* header =
      "preset\thf_id\tarchitecture\tquantization\tweights_gib\tcontext_limit\tkv_bytes_per_token\n";
  auto ok = Catalog::Parse(std::string(header) + "m\ta/m\tX\tnone\t1.5\t100\t10\n", gpus);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->models().size(), 1u);

  auto bad_weights = Catalog::Parse(std::string(header) + "m\ta/m\tX\tnone\tbig\t100\t10\n", gpus);
  ASSERT_FALSE(bad_weights.ok());
  EXPECT_THAT(bad_weights.status().message(), HasSubstr("models.tsv:2"));
  EXPECT_THAT(bad_weights.status().message(), HasSubstr("weights_gib"));

  auto dup = Catalog::Parse(
      std::string(header) + "m\ta/m\tX\tnone\t1\t1\t1\nM\ta/n\tX\tnone\t1\t1\t1\n", gpus);
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.status().message(), HasSubstr("duplicate preset"));

  auto unknown_gpu =
      Catalog::Parse(std::string(header),
                     std::string(gpus) + "instance_type\tcloud\tgpus\tgpu\nx1\taws\t1\tB200\n");
  ASSERT_FALSE(unknown_gpu.ok());
  EXPECT_THAT(unknown_gpu.status().message(), HasSubstr("unknown GPU B200"));
}

TEST(CatalogTest, MigProfileMemory) {
  auto m = MigProfileMemoryGib("1g.10gb");
  ASSERT_TRUE(m.ok());
  EXPECT_DOUBLE_EQ(*m, 10);
  EXPECT_DOUBLE_EQ(*MigProfileMemoryGib("7g.141gb"), 141);
  EXPECT_DOUBLE_EQ(*MigProfileMemoryGib("3G.40GB"), 40);
  EXPECT_FALSE(MigProfileMemoryGib("10gb").ok());
  EXPECT_FALSE(MigProfileMemoryGib("1g.gb").ok());
  EXPECT_FALSE(MigProfileMemoryGib("9g.10gb").ok());
}

}  // namespace
}  // namespace berth::workspace
