// How quote verification reports a failed check: the check's name (as listed in docs/ATTESTATION.md)
// and why it failed. Inside the layer a failing check throws CheckFailed; verify_quote turns it into
// a Failure in its result.
#pragma once
#include <stdexcept>
#include <string>

namespace veil::attest {

struct Failure {
  std::string check;   // e.g. "pck chain", "quote signature"
  std::string reason;  // e.g. "certificate has expired (CN=Intel SGX PCK Certificate)"
};

class CheckFailed : public std::runtime_error {
 public:
  CheckFailed(std::string check, const std::string& reason)
      : std::runtime_error(check + ": " + reason), failure_{std::move(check), reason} {}
  const Failure& failure() const { return failure_; }

 private:
  Failure failure_;
};

}  // namespace veil::attest
