#include "veil/kv_flags.h"

#include <stdexcept>

namespace veil::app {

namespace {
bool on_off(const std::string& v, const std::string& flag) {
  if (v == "on") return true;
  if (v == "off") return false;
  throw std::invalid_argument(flag + " must be on or off, got '" + v + "'");
}
}  // namespace

nn::KvPolicyConfig KvFlags::resolve() const {
  nn::KvPolicyConfig c = config;
  c.kind = nn::parse_kv_policy(policy);
  c.reveal = nn::parse_static_reveal(reveal);
  c.share = on_off(share, "--kv-share");
  c.static_eviction = on_off(static_eviction, "--kv-static");
  nn::validate(c);
  return c;
}

void add_kv_flags(CLI::App* cmd, KvFlags& f, bool with_policy) {
  const std::string g = "KV cache";
  if (with_policy)
    cmd->add_option("--kv-policy", f.policy,
                    "KV-cache policy: full (keep and attend to everything), streaming (StreamingLLM: sinks + recent), "
                    "h2o (heavy hitters + recent), snapkv (prefill voting), quest (query-aware pages), topk (exact top-k by "
                    "q·k, a reference), mpcache (static eviction + hierarchical cluster selection; "
                    "runs under MPC). h2o, snapkv, quest and topk are plaintext only")
        ->group(g)
        ->capture_default_str();
  cmd->add_option("--kv-budget", f.config.budget,
                  "Fraction of the context (every token seen) a decoding step attends to, in (0, 1]")
      ->group(g)
      ->capture_default_str();
  cmd->add_option("--kv-sink", f.config.sink, "streaming: attention-sink tokens always kept")->group(g)->capture_default_str();
  cmd->add_option("--kv-window", f.config.window,
                  "mpcache: observation window of static eviction, as a fraction of the prompt (its last queries)")
      ->group(g)
      ->capture_default_str();
  cmd->add_option("--kv-snap-window", f.config.snap_window, "snapkv: observation window in tokens (the last queries)")
      ->group(g)
      ->capture_default_str();
  cmd->add_option("--kv-pool", f.config.pool, "snapkv: max-pooling width over token votes (odd)")->group(g)->capture_default_str();
  cmd->add_option("--kv-page", f.config.page, "quest: tokens per page")->group(g)->capture_default_str();
  cmd->add_option("--kv-static", f.static_eviction, "mpcache: look-once static eviction at the prefill (on, off)")
      ->group(g)
      ->capture_default_str();
  cmd->add_option("--kv-gamma", f.config.gamma,
                  "mpcache: static eviction keeps a prompt token whose head-averaged attention from some observation "
                  "query reaches gamma")
      ->group(g)
      ->capture_default_str();
  cmd->add_option("--kv-reveal", f.reveal,
                  "mpcache under MPC: what static eviction opens to the parties: positions (the kept positions), or "
                  "count (only how many; the rows move by a secret shuffle, at a measured extra cost)")
      ->group(g)
      ->capture_default_str();
  cmd->add_option("--kv-fine", f.config.fine, "mpcache: tokens per fine cluster (the sink cluster is one)")
      ->group(g)
      ->capture_default_str();
  cmd->add_option("--kv-coarse", f.config.coarse, "mpcache: tokens per coarse cluster (a multiple of --kv-fine, >= 2x)")
      ->group(g)
      ->capture_default_str();
  cmd->add_option("--kv-alpha", f.config.alpha,
                  "mpcache: cluster score sum_i q_i*(alpha*max_i + (1 - alpha)*min_i), alpha in [0, 1]")
      ->group(g)
      ->capture_default_str();
  cmd->add_option("--kv-share", f.share,
                  "mpcache: layers (2,3), (4,5), ... reuse the even layer's selection and keep set (on, off)")
      ->group(g)
      ->capture_default_str();
}

}  // namespace veil::app
