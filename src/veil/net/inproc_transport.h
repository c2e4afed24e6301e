// In-process transport: three parties as threads of one process, frames passed through
// mailboxes (mutex + condition variable). Used by tests and by single-process runs.
#pragma once
#include <array>
#include <memory>

#include "veil/net/transport.h"

namespace veil::net {

struct InProcHub;  // the nine mailboxes shared by the three transports

// Returns three connected transports, one per party id.
std::array<std::unique_ptr<Transport>, 3> make_inproc_transports();

}  // namespace veil::net
