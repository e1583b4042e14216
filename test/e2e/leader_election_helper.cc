// A process that campaigns for a Lease and prints "LEADING" (then flushes)
// when it leads, "STOPPED" when it stops leading. Used by
// leader_election_e2e_test to SIGKILL a real leader.
//
// Usage: leader_election_helper NAMESPACE LEASE IDENTITY LEASE_SECONDS
// Needs KUBECONFIG. Runs until killed.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "kube/config.h"
#include "kube/http_client.h"
#include "runtime/leader_election.h"
#include "test/e2e/support/rest_config.h"

int main(int argc, char** argv) {
  int lease_seconds = 0;
  if (argc != 5 || !absl::SimpleAtoi(argv[4], &lease_seconds) || lease_seconds < 3) {
    std::fprintf(stderr, "usage: %s NAMESPACE LEASE IDENTITY LEASE_SECONDS(>=3)\n", argv[0]);
    return 2;
  }
  absl::StatusOr<weir::kube::RestConfig> config = weir::e2e::RestConfigFromEnv();
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return config.status().code() == absl::StatusCode::kFailedPrecondition ? 2 : 1;
  }
  absl::StatusOr<std::unique_ptr<weir::kube::HttpClient>> client =
      weir::kube::HttpClient::New(*config);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
    return 1;
  }
  weir::runtime::LeaderElectionConfig c;
  c.lease_namespace = argv[1];
  c.lease_name = argv[2];
  c.identity = argv[3];
  c.lease_duration = absl::Seconds(lease_seconds);
  c.renew_deadline = absl::Seconds(lease_seconds) * 2 / 3;
  c.retry_period = absl::Seconds(lease_seconds) / 4;
  c.on_started_leading = [] {
    std::fputs("LEADING\n", stdout);
    std::fflush(stdout);
  };
  c.on_stopped_leading = [] {
    std::fputs("STOPPED\n", stdout);
    std::fflush(stdout);
  };
  absl::StatusOr<std::unique_ptr<weir::runtime::LeaderElector>> elector =
      weir::runtime::LeaderElector::New(client->get(), c);
  if (!elector.ok()) {
    std::fprintf(stderr, "%s\n", elector.status().ToString().c_str());
    return 1;
  }
  (*elector)->Start();
  while (true) absl::SleepFor(absl::Hours(1));
}
