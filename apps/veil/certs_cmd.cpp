// `veil certs`: a CA, the three party certificates and the client certificate, with no extra tools.
#include <cstdio>
#include <memory>

#include "veil/commands.h"
#include "veil/net/certs.h"

namespace veil::app {

void register_certs(CLI::App& app) {
  struct Args {
    std::string out;
    net::CertOptions opt;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "certs", "Create a CA, certificates for parties 0, 1 and 2 (EC P-256, CN veil-party-<id>) for `veil party` "
               "and a client certificate (CN veil-client) for `veil generate --parties`, all with SAN "
               "127.0.0.1/localhost, and one for TEE workers (CN veil-tee-worker, `veil tee-worker serve`). The CA key is not kept.");
  cmd->add_option("--out", args->out, "Directory for ca.pem, party<i>.pem, party<i>.key, client.pem, client.key, tee-worker.pem and tee-worker.key (created if missing)")
      ->required();
  cmd->add_option("--days", args->opt.days, "How many days the certificates stay valid")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  cmd->add_flag("--force", args->opt.overwrite, "Replace certificate and key files that already exist");
  cmd->callback([args] {
    net::write_party_certs(args->out, args->opt);
    net::TlsFiles p0 = net::party_cert_files(args->out, 0);
    net::TlsFiles c = net::client_cert_files(args->out);
    std::printf("wrote %s, party{0,1,2}.{pem,key}, client.{pem,key} and tee-worker.{pem,key} to %s\n"
                "use: veil party --id 0 --cert %s --key %s --ca %s --peers ...\n"
                "     veil generate --parties ... --cert %s --key %s --ca %s ...\n",
                "ca.pem", args->out.c_str(), p0.cert.c_str(), p0.key.c_str(), p0.ca.c_str(), c.cert.c_str(),
                c.key.c_str(), c.ca.c_str());
  });
}

}  // namespace veil::app
