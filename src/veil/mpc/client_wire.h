// Messages between the client and one party (the same bytes in process and over TLS). Every
// message starts with a kind byte; integers are little-endian u64.
//
//   input  (client -> party i)  'I' | n | form0 u8 | form1 u8 | component0 | component1
//          the party's pair (x_i, x_{i+1}) of an input of n ring elements; a component is
//          form 0: n elements, form 1: a 16-byte seed the party expands with the AES-CTR PRG
//          (core/prg.h) to n elements, or form 2: n little-endian u32, the component modulo 2^32
//          (an input used only on Z_2^32, such as one-hot rows for an FM32 embedding: the pair
//          then shares x modulo 2^32, and the party reads the high halves as zero).
//   output (party i -> client)  'O' | bytes_sent | rounds | n | x_i (n) | x_{i+1} (n)
//          the party's pair of a value opened to the client, and the party's link traffic since
//          the session began (bytes it sent, rounds), for the client's report.
//   error  (either way)         'E' | UTF-8 text: why the sender gives up on the session.
// nn/session_request.h adds the session's request ('R') and acceptance ('A').
//
// Seeded split (client_split_seeded): x_0 and x_1 are drawn from fresh seeds s_0, s_1 and
// x_2 = x − x_0 − x_1. Party 0 receives (s_0, s_1): 32 bytes whatever n is; party 1 receives
// (s_1, x_2) and party 2 (x_2, s_0): 8n + 16 bytes each (4n + 16 for an input modulo 2^32).
// Each party's view is still uniformly random: the component it cannot expand is missing from
// its pair. Input traffic is 16n bytes instead of the 48n of explicit pairs.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "veil/core/prg.h"
#include "veil/mpc/client_channel.h"

namespace veil::mpc {

enum class ClientMessage : uint8_t {
  request = 'R',  // nn/session_request.h
  accept = 'A',   // nn/session_request.h
  input = 'I',
  output = 'O',
  error = 'E',
};

struct WireComponent {
  bool seeded = false;
  Seed seed{};                    // when seeded
  std::vector<uint64_t> values;  // otherwise
  bool low32 = false;            // values travel modulo 2^32 (form 2)
};

struct WirePair {  // one party's pair of an input, as it travels
  uint64_t n = 0;
  WireComponent first, second;
};

// The three parties' pairs of x; seeds are drawn from the client's private `prg`. ring_bits 32:
// x is shared modulo 2^32 only (its explicit component travels as u32).
std::array<WirePair, 3> client_split_seeded(const std::vector<uint64_t>& x, Prg& prg, int ring_bits = 64);
SharePair expand(const WirePair& p);

std::vector<uint8_t> encode_input(const WirePair& p);
// Throws std::runtime_error naming `from` for a malformed message or more than max_n elements.
WirePair decode_input(const std::vector<uint8_t>& msg, uint64_t max_n, const std::string& from);

std::vector<uint8_t> encode_output(const SharePair& p, const net::Traffic& traffic);
SharePair decode_output(const std::vector<uint8_t>& msg, net::Traffic& traffic, const std::string& from);

std::vector<uint8_t> encode_error(const std::string& text);
// The kind of a message (throws for an empty one); for 'E', `text` receives the sender's reason.
ClientMessage message_kind(const std::vector<uint8_t>& msg, const std::string& from);
std::string error_text(const std::vector<uint8_t>& msg);

}  // namespace veil::mpc
