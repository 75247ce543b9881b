#include "member-agent/sim/cluster_state.h"

namespace berth::agent::sim {

PodState PodStateOf(const Pod& pod) {
  PodState s;
  s.name = pod.name;
  s.statefulset = pod.statefulset;
  s.node = pod.node;
  s.revision = pod.revision;
  return s;
}

}  // namespace berth::agent::sim
