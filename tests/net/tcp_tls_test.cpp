// TLS-only checks of the TCP transport: a certificate from another CA, a certificate of the wrong
// party, a missing file, and a TLS/plaintext mix are refused at setup with a clear error.
#include <gtest/gtest.h>

#include "net/net_test_util.h"
#include "veil/net/certs.h"

namespace veil::net {
namespace {

using namespace std::chrono_literals;
using namespace veil::net::testing;

class TcpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override { write_party_certs(certs_.path()); }
  TcpOptions options(int party) const {
    TcpOptions o;
    o.tls_files = party_cert_files(certs_.path(), party);
    o.setup_timeout = 3s;
    return o;
  }
  TempDir certs_;
};

TEST_F(TcpTlsTest, CertificateFromAnotherCaIsRefused) {
  TempDir other;
  write_party_certs(other.path());
  Connected c = connect_three(free_loopback_endpoints(), [&](int i) {
    TcpOptions o = options(i);
    if (i == 1) o.tls_files = party_cert_files(other.path(), 1);
    return o;
  });
  for (int i = 0; i < 3; ++i) EXPECT_NE(c.errors[size_t(i)], "") << "party " << i << " should fail";
  EXPECT_CONTAINS(c.errors[0], "party 0: ");
  EXPECT_CONTAINS(c.errors[1], "TLS handshake with party 0");
  EXPECT_CONTAINS(c.errors[1], "certificate verify failed");
}

TEST_F(TcpTlsTest, CertificateOfAnotherPartyIsRefused) {
  Connected c = connect_three(free_loopback_endpoints(), [&](int i) {
    TcpOptions o = options(i);
    if (i == 1) o.tls_files = party_cert_files(certs_.path(), 2);  // party 1 poses as party 2's cert
    return o;
  });
  for (int i = 0; i < 3; ++i) EXPECT_NE(c.errors[size_t(i)], "") << "party " << i << " should fail";
  EXPECT_CONTAINS(c.errors[0], "presents a certificate for 'veil-party-2', expected 'veil-party-1'");
}

TEST_F(TcpTlsTest, MissingCertificateFileIsNamed) {
  TcpOptions o = options(0);
  o.tls_files.cert = (certs_.path() / "nope.pem").string();
  EXPECT_CONTAINS(link_error_of([&] { connect_tcp(0, free_loopback_endpoints(), o); }),
                  "party 0: certificate file '" + o.tls_files.cert + "' does not exist");
}

TEST_F(TcpTlsTest, PlaintextPeerIsRefused) {
  Connected c = connect_three(free_loopback_endpoints(), [&](int i) {
    TcpOptions o = options(i);
    o.tls = i != 2;
    return o;
  });
  for (int i = 0; i < 3; ++i) EXPECT_NE(c.errors[size_t(i)], "") << "party " << i << " should fail";
  EXPECT_CONTAINS(c.errors[0], "TLS handshake with the connection from 127.0.0.1:");
  EXPECT_CONTAINS(c.errors[2], "--insecure");
}

}  // namespace
}  // namespace veil::net
