// Catalog parsing and lookups. The TSV files are small (tens of rows), so lookups are
// linear scans: simpler than maintaining indexes and far below any measurable cost.
#include "workspace/catalog.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <sstream>

#include "workspace/text_match.h"

extern const std::string_view kBerthModelsTsv;
extern const std::string_view kBerthGpusTsv;

namespace berth::workspace {
namespace {

std::vector<std::string> SplitTabs(std::string_view line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    out.emplace_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  for (auto& f : out) {
    while (!f.empty() && (f.back() == '\r' || f.back() == ' ')) f.pop_back();
  }
  return out;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

bool ParseDouble(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

bool ParseInt(const std::string& s, int64_t* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

Status RowError(std::string_view file, size_t line_no, const std::string& why) {
  return Status::Invalid(std::string(file) + ":" + std::to_string(line_no) + ": " + why);
}

// Suggestion text for NotFound errors: "; did you mean a, b?" or empty.
std::string DidYouMean(std::string_view wanted, const std::vector<std::string>& candidates) {
  auto close = ClosestNames(wanted, candidates, 3);
  if (close.empty()) return "";
  std::string out = "; did you mean ";
  for (size_t i = 0; i < close.size(); ++i) {
    if (i) out += ", ";
    out += close[i];
  }
  return out + "?";
}

}  // namespace

StatusOr<Catalog> Catalog::Parse(std::string_view models_tsv, std::string_view gpus_tsv) {
  Catalog c;
  bool models_header = false;
  auto model_lines = Lines(models_tsv);
  for (size_t i = 0; i < model_lines.size(); ++i) {
    auto line = model_lines[i];
    if (line.empty() || line[0] == '#') continue;
    auto f = SplitTabs(line);
    if (!models_header) {
      if (f.size() != 7 || f[0] != "preset" || f[6] != "kv_bytes_per_token") {
        return RowError("models.tsv", i + 1,
                        "expected header preset/hf_id/architecture/quantization/weights_gib/"
                        "context_limit/kv_bytes_per_token");
      }
      models_header = true;
      continue;
    }
    if (f.size() != 7) return RowError("models.tsv", i + 1, "expected 7 tab-separated fields");
    ModelInfo m;
    m.preset = f[0];
    m.hf_id = f[1];
    m.architecture = f[2];
    m.quantization = f[3];
    if (!ParseDouble(f[4], &m.weights_gib) || m.weights_gib <= 0) {
      return RowError("models.tsv", i + 1,
                      "weights_gib must be a positive number, got '" + f[4] + "'");
    }
    if (!ParseInt(f[5], &m.context_limit) || m.context_limit <= 0) {
      return RowError("models.tsv", i + 1, "context_limit must be a positive integer");
    }
    if (!ParseInt(f[6], &m.kv_bytes_per_token) || m.kv_bytes_per_token <= 0) {
      return RowError("models.tsv", i + 1, "kv_bytes_per_token must be a positive integer");
    }
    for (const auto& existing : c.models_) {
      if (EqualsIgnoreCase(existing.preset, m.preset)) {
        return RowError("models.tsv", i + 1, "duplicate preset " + m.preset);
      }
    }
    c.models_.push_back(std::move(m));
  }
  if (!models_header) return Status::Invalid("models.tsv: missing header line");

  // gpus.tsv has two sections, each introduced by its own header line.
  enum class Section { kNone, kGpus, kInstances } section = Section::kNone;
  auto gpu_lines = Lines(gpus_tsv);
  for (size_t i = 0; i < gpu_lines.size(); ++i) {
    auto line = gpu_lines[i];
    if (line.empty() || line[0] == '#') continue;
    auto f = SplitTabs(line);
    if (f[0] == "gpu") {
      section = Section::kGpus;
      continue;
    }
    if (f[0] == "instance_type") {
      section = Section::kInstances;
      continue;
    }
    if (section == Section::kGpus) {
      if (f.size() != 5) return RowError("gpus.tsv", i + 1, "expected 5 fields for a GPU product");
      GpuInfo g;
      g.name = f[0];
      g.gfd_product = f[1];
      if (!ParseDouble(f[2], &g.memory_gib) || g.memory_gib <= 0) {
        return RowError("gpus.tsv", i + 1, "memory_gib must be a positive number");
      }
      if (!ParseDouble(f[3], &g.compute_capability)) {
        return RowError("gpus.tsv", i + 1, "cc must be a number");
      }
      if (f[4] != "yes" && f[4] != "no")
        return RowError("gpus.tsv", i + 1, "mig_capable must be yes or no");
      g.mig_capable = f[4] == "yes";
      c.gpus_.push_back(std::move(g));
    } else if (section == Section::kInstances) {
      if (f.size() != 4)
        return RowError("gpus.tsv", i + 1, "expected 4 fields for an instance type");
      InstanceType t;
      t.name = f[0];
      t.cloud = f[1];
      int64_t gpus = 0;
      if (!ParseInt(f[2], &gpus) || gpus <= 0)
        return RowError("gpus.tsv", i + 1, "gpus must be positive");
      t.gpus = static_cast<int>(gpus);
      t.gpu = f[3];
      c.instance_types_.push_back(std::move(t));
    } else {
      return RowError("gpus.tsv", i + 1, "row before any section header");
    }
  }
  for (const auto& t : c.instance_types_) {
    if (!c.FindGpu(t.gpu).ok()) {
      return Status::Invalid("gpus.tsv: instance type " + t.name + " names unknown GPU " + t.gpu);
    }
  }
  return c;
}

const Catalog& Catalog::BuiltIn() {
  static const Catalog* built_in = [] {
    auto parsed = Parse(kBerthModelsTsv, kBerthGpusTsv);
    // The embedded data is checked by catalog_test; a parse failure here is a build defect.
    if (!parsed.ok()) std::abort();
    return new Catalog(std::move(parsed).value());
  }();
  return *built_in;
}

StatusOr<ModelInfo> Catalog::FindModel(std::string_view name_or_hf_id) const {
  for (const auto& m : models_) {
    if (EqualsIgnoreCase(m.preset, name_or_hf_id) || EqualsIgnoreCase(m.hf_id, name_or_hf_id)) {
      return m;
    }
  }
  std::vector<std::string> names;
  bool looks_like_hf_id = name_or_hf_id.find('/') != std::string_view::npos;
  for (const auto& m : models_) names.push_back(looks_like_hf_id ? m.hf_id : m.preset);
  std::string hint = DidYouMean(name_or_hf_id, names);
  if (hint.empty()) {
    // Nothing close: name them all, as a user new to the catalog needs.
    hint = looks_like_hf_id ? "; known Hugging Face ids: " : "; known presets: ";
    for (size_t i = 0; i < names.size(); ++i) hint += (i ? ", " : "") + names[i];
  }
  return Status::NotFound("unknown model preset " + QuoteShort(name_or_hf_id) + hint);
}

StatusOr<GpuInfo> Catalog::FindGpu(std::string_view name_or_product) const {
  // GFD in MIG "single" strategy reports e.g. NVIDIA-A100-SXM4-80GB-MIG-1g.10gb.
  std::string_view wanted = name_or_product;
  if (auto mig = ToLower(wanted).find("-mig-"); mig != std::string::npos)
    wanted = wanted.substr(0, mig);
  for (const auto& g : gpus_) {
    if (EqualsIgnoreCase(g.name, wanted) || EqualsIgnoreCase(g.gfd_product, wanted)) return g;
  }
  std::vector<std::string> names;
  for (const auto& g : gpus_) names.push_back(g.name);
  return Status::NotFound("unknown GPU " + QuoteShort(name_or_product) +
                          DidYouMean(name_or_product, names));
}

StatusOr<InstanceType> Catalog::FindInstanceType(std::string_view name) const {
  for (const auto& t : instance_types_) {
    if (EqualsIgnoreCase(t.name, name)) return t;
  }
  std::vector<std::string> names;
  for (const auto& t : instance_types_) names.push_back(t.name);
  return Status::NotFound("unknown instance type " + QuoteShort(name) +
                          DidYouMean(name, names));
}

StatusOr<double> MigProfileMemoryGib(std::string_view profile) {
  // "<compute>g.<memory>gb", e.g. 1g.10gb, 3g.40gb, 7g.141gb.
  std::string p = ToLower(profile);
  auto dot = p.find('.');
  auto bad = [&] {
    return Status::Invalid("MIG profile \"" + std::string(profile) +
                           "\" is not of the form <N>g.<M>gb (e.g. 1g.10gb, 3g.40gb)");
  };
  if (dot == std::string::npos || dot < 2 || p[dot - 1] != 'g' || p.size() < dot + 4 ||
      p.substr(p.size() - 2) != "gb") {
    return bad();
  }
  int64_t slices = 0, mem = 0;
  if (!ParseInt(p.substr(0, dot - 1), &slices) || slices < 1 || slices > 8) return bad();
  if (!ParseInt(p.substr(dot + 1, p.size() - dot - 3), &mem) || mem <= 0) return bad();
  return static_cast<double>(mem);
}

}  // namespace berth::workspace
