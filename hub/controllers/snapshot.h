// Builds the placement engine's view of one member from its MemberCluster object: labels,
// taints, health and the GPU inventory the agent reported (see docs/API.md, "Inventory").
// Pure.
#pragma once

#include <nlohmann/json.hpp>

#include "placement/fleet.h"

namespace berth::hub {

// `healthy` is the controller's verdict (lease fresh, failover toleration not exceeded).
placement::ClusterInventory InventoryFromMember(const nlohmann::json& member, bool healthy);

}  // namespace berth::hub
