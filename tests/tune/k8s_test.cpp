// Kubernetes manifests: a Job per trial on the spot pool with the checkpoint volume; the
// committed deploy/k8s/tune manifests are what `veil tune k8s` generates.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "veil/tune/k8s.h"

using namespace veil::tune;

namespace {
std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
}  // namespace

TEST(TuneK8s, JobRunsOnSpotPoolWithCheckpointVolume) {
  SearchSpace sp;
  sp.epochs = 15;
  sp.command = "python3 trial.py --params {params} --checkpoint-dir {checkpoint_dir} --epochs {epochs}";
  K8sOptions o;
  o.instance_type = "c5.2xlarge";
  std::string y = k8s_job_yaml(sp, {{"lr", 0.01}}, 7, o);
  for (const char* want : {"kind: Job", "name: veil-tune-trial-7", "restartPolicy: OnFailure", "backoffLimit: 20",
                           "eks.amazonaws.com/capacityType: \"SPOT\"", "node.kubernetes.io/instance-type: \"c5.2xlarge\"",
                           "tolerations:", "effect: NoSchedule", "claimName: veil-tune-checkpoints",
                           "mountPath: \"/checkpoints\"", "--checkpoint-dir '/checkpoints/trial-7' --epochs 15",
                           "terminationGracePeriodSeconds: 100"})
    EXPECT_NE(y.find(want), std::string::npos) << want << "\n" << y;
  EXPECT_NE(k8s_claim_yaml(o).find("ReadWriteMany"), std::string::npos);
  // No tabs, two-space indentation throughout.
  EXPECT_EQ(y.find('\t'), std::string::npos);
  std::istringstream ls(y);
  for (std::string line; std::getline(ls, line);) EXPECT_EQ(line.find_first_not_of(' ') % 2, 0u) << line;
}

TEST(TuneK8s, CommittedManifestsMatchTheGenerator) {
  std::string dir = std::string(VEIL_SOURCE_DIR) + "/deploy/k8s/tune";
  if (!std::filesystem::exists(dir + "/trial-0.yaml")) GTEST_SKIP() << dir << " has no generated manifests";
  std::string tmp = std::filesystem::temp_directory_path() / ("veil-k8s-" + std::to_string(getpid()));
  std::string cmd = std::string(VEIL_BINARY) + " tune k8s --space " + VEIL_SOURCE_DIR + "/data/tune/mlp_space.json --trials 3 --out " + tmp + " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  for (const char* f : {"checkpoints-pvc.yaml", "trial-0.yaml", "trial-1.yaml", "trial-2.yaml"})
    EXPECT_EQ(slurp(tmp + "/" + f), slurp(dir + "/" + f)) << f << " differs: regenerate with veil tune k8s";
  std::filesystem::remove_all(tmp);
  // Validate with a YAML parser where one is installed.
  if (std::system("/usr/bin/python3 -c 'import yaml' 2>/dev/null") == 0) {
    std::string v = "/usr/bin/python3 -c 'import sys,yaml; [list(yaml.safe_load_all(open(f))) for f in sys.argv[1:]]' " + dir + "/*.yaml";
    EXPECT_EQ(std::system(v.c_str()), 0) << "manifests do not parse as YAML";
  }
}
