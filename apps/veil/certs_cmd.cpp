// `veil certs`: a CA and the three party certificates for `veil party`, with no extra tools.
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
      "certs", "Create a CA and certificates for parties 0, 1 and 2 (EC P-256, CN veil-party-<id>, "
               "SAN 127.0.0.1/localhost) for `veil party`. The CA key is not kept.");
  cmd->add_option("--out", args->out, "Directory for ca.pem, party<i>.pem and party<i>.key (created if missing)")
      ->required();
  cmd->add_option("--days", args->opt.days, "How many days the certificates stay valid")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  cmd->add_flag("--force", args->opt.overwrite, "Replace certificate and key files that already exist");
  cmd->callback([args] {
    net::write_party_certs(args->out, args->opt);
    net::TlsFiles p0 = net::party_cert_files(args->out, 0);
    std::printf("wrote %s and party{0,1,2}.{pem,key} to %s\n"
                "use: veil party --id 0 --cert %s --key %s --ca %s --peers ...\n",
                "ca.pem", args->out.c_str(), p0.cert.c_str(), p0.key.c_str(), p0.ca.c_str());
  });
}

}  // namespace veil::app
