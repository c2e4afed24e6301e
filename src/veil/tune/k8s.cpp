#include "veil/tune/k8s.h"

#include <sstream>

#include "veil/tune/trial_process.h"

namespace veil::tune {

namespace {
// A YAML double-quoted scalar.
std::string q(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o += c;
  }
  return o + "\"";
}

std::string substitute(std::string c, const std::string& from, const std::string& to) {
  for (size_t p = c.find(from); p != std::string::npos; p = c.find(from, p + to.size())) c.replace(p, from.size(), to);
  return c;
}
}  // namespace

std::string k8s_claim_yaml(const K8sOptions& o) {
  std::ostringstream y;
  y << "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: " << o.claim << "\n  namespace: " << o.ns
    << "\nspec:\n  accessModes: [\"ReadWriteMany\"]\n  resources:\n    requests:\n      storage: " << o.storage << "\n";
  return y.str();
}

std::string k8s_job_yaml(const SearchSpace& space, const nlohmann::json& params, int trial, const K8sOptions& o) {
  const std::string dir = o.mount + "/trial-" + std::to_string(trial);
  std::string cmd = space.command;
  cmd = substitute(cmd, "{params}", shell_quote(params.dump()));
  cmd = substitute(cmd, "{checkpoint_dir}", shell_quote(dir));
  cmd = substitute(cmd, "{epochs}", std::to_string(space.epochs));
  cmd = substitute(cmd, "{trial}", std::to_string(trial));
  std::ostringstream y;
  y << "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: veil-tune-trial-" << trial << "\n  namespace: " << o.ns
    << "\n  labels:\n    app: veil-tune\n    veil-tune/trial: " << q(std::to_string(trial)) << "\nspec:\n  backoffLimit: "
    << o.backoff_limit << "\n  template:\n    metadata:\n      labels:\n        app: veil-tune\n        veil-tune/trial: "
    << q(std::to_string(trial)) << "\n    spec:\n      restartPolicy: OnFailure\n      terminationGracePeriodSeconds: "
    << o.grace_s << "\n      nodeSelector:\n        " << o.selector_key << ": " << q(o.selector_value) << "\n";
  if (!o.instance_type.empty()) y << "        node.kubernetes.io/instance-type: " << q(o.instance_type) << "\n";
  y << "      tolerations:\n        - key: " << q(o.taint_key) << "\n          operator: Equal\n          value: "
    << q(o.taint_value) << "\n          effect: NoSchedule\n";
  y << "      containers:\n        - name: trial\n          image: " << q(o.image) << "\n          command: [\"/bin/sh\", \"-c\", "
    << q(cmd) << "]\n          env:\n"
    << "            - name: VEIL_TUNE_PARAMS\n              value: " << q(params.dump()) << "\n"
    << "            - name: VEIL_TUNE_CHECKPOINT_DIR\n              value: " << q(dir) << "\n"
    << "            - name: VEIL_TUNE_EPOCHS\n              value: " << q(std::to_string(space.epochs)) << "\n"
    << "            - name: VEIL_TUNE_TRIAL\n              value: " << q(std::to_string(trial)) << "\n"
    << "          resources:\n            requests:\n              cpu: " << q(o.cpu) << "\n              memory: " << q(o.memory)
    << "\n            limits:\n              memory: " << q(o.memory) << "\n"
    << "          volumeMounts:\n            - name: checkpoints\n              mountPath: " << q(o.mount) << "\n"
    << "      volumes:\n        - name: checkpoints\n          persistentVolumeClaim:\n            claimName: " << o.claim << "\n";
  return y.str();
}

}  // namespace veil::tune
