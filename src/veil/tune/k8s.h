// Kubernetes executor (manifests only): each trial is a Job on a spot node pool that
// mounts a shared checkpoint volume, so a pod the spot reclaim kills is recreated by the
// Job controller and the trial resumes from its checkpoint. A PersistentVolumeClaim holds
// the checkpoints (one sub-directory per trial).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "veil/tune/space.h"

namespace veil::tune {

struct K8sOptions {
  std::string image = "veil-tune-trial:latest";
  std::string ns = "veil-tune";
  std::string claim = "veil-tune-checkpoints";
  std::string storage = "10Gi";
  std::string mount = "/checkpoints";
  std::string cpu = "2", memory = "4Gi";
  // Spot node pool selection (EKS managed node groups label spot nodes this way).
  std::string selector_key = "eks.amazonaws.com/capacityType", selector_value = "SPOT";
  std::string instance_type;  // optional node.kubernetes.io/instance-type
  std::string taint_key = "spot", taint_value = "true";
  int backoff_limit = 20;     // restarts after revocations or crashes
  int grace_s = 100;          // < the 120 s revocation notice
};

std::string k8s_claim_yaml(const K8sOptions& o);
std::string k8s_job_yaml(const SearchSpace& space, const nlohmann::json& params, int trial, const K8sOptions& o);

}  // namespace veil::tune
