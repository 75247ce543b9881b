// Kinds Berth lists in discovery but never stores: the workloads of kubectl's default
// `apply --prune` allowlist (Pods, Services, Deployments, Jobs, Ingresses, ...). Without
// them in discovery, `kubectl apply --prune -l app=x -f dir/` fails before applying
// anything ("no matches for kind"). Get, list and watch answer as for an empty collection;
// writes are a 405 saying that member clusters run workloads, not the hub
// (api::KindInfo::unserved_reason). Pure: no I/O.
#pragma once

#include <vector>

#include "api/kinds.h"

namespace berth::kinds {

// One KindInfo per kind of kubectl's default prune allowlist that Berth does not store.
std::vector<api::KindInfo> UnservedWorkloadKinds();

}  // namespace berth::kinds
