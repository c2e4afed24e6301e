// Context: everything a party's kernels need — its id, its link, its PRGs and the fixed-point
// configuration. Passed down explicitly; there are no globals.
//
// Correlated randomness (no dealer): party i holds seed s_i, shared with party i+1, and seed
// s_{i-1}, shared with party i-1. prg_next draws from s_i, prg_prev from s_{i-1}. Both holders of
// a seed must draw the same amounts in the same order; every kernel keeps its draws symmetric.
#pragma once
#include <optional>

#include "veil/core/prg.h"
#include "veil/core/ring.h"
#include "veil/net/link.h"

namespace veil::mpc {

struct Config {
  int frac_bits_fm32 = RingTraits<Ring::FM32>::default_frac_bits;
  int frac_bits_fm64 = RingTraits<Ring::FM64>::default_frac_bits;
  template <class T> int frac_bits() const { return sizeof(T) == 4 ? frac_bits_fm32 : frac_bits_fm64; }
};

class Context {
 public:
  // Runs the one-round seed setup with the peers (16 bytes to the next party).
  Context(net::Link& link, Config cfg = {});

  int id() const { return link_.self(); }
  int next() const { return link_.next(); }
  int prev() const { return link_.prev(); }
  net::Link& link() { return link_; }
  const Config& config() const { return cfg_; }

  Prg& prg_next() { return prg_next_; }  // seed shared with party next()
  Prg& prg_prev() { return prg_prev_; }  // seed shared with party prev()
  Prg& prg_own() { return prg_own_; }    // private to this party

 private:
  net::Link& link_;
  Config cfg_;
  Prg prg_own_;
  Prg prg_next_;
  Prg prg_prev_;
};

}  // namespace veil::mpc
