// Tensor parallelism across two "hosts": two network namespaces joined by a veth pair, one rank
// in each, OpenMPI over TCP. The logits must be byte-identical to the single-namespace TP = 2 run
// (the all-reduce sums the gathered parts in rank order, so the transport changes no bits), and
// the veth's packet counters must show that the ranks really talked over it.
//
// How the job is wired (what a real two-host launch does, with `ip netns exec` in place of ssh):
//   - mpirun runs inside namespace A, with a hostfile naming A's and B's veth addresses
//     (`slots=1` each, so rank 0 lands on A and rank 1 on B);
//   - OpenMPI sees that A's address is its own and starts rank 0 itself; for B it calls the
//     rsh launcher's agent (plm_rsh_agent) as it would call ssh: `<agent> <host> <orted words>`.
//     The agent is a small script that runs those words with `ip netns exec B sh -c`. The
//     orted in B dials back to mpirun over the veth (oob_tcp_if_include), and rank 1 reaches its
//     orted over B's own loopback (PMIx), hence `lo` is brought up in both namespaces;
//   - ranks talk with `--mca pml ob1 --mca btl self,tcp --mca btl_tcp_if_include <subnet>`. As
//     OpenMPI sees two nodes, the shared-memory BTL (vader) finds no local peer and drops out by
//     itself (btl_base_verbose says so), but naming the BTLs, and ob1 rather than UCX, keeps any
//     shared-memory path from hiding the network should that ever change.
// What does not work: an MPMD `mpirun -np 1 ip netns exec A pagoda : -np 1 ip netns exec B
// pagoda` from the root namespace. The ranks' PMIx client must reach the launcher's PMIx server,
// which listens on the root namespace's loopback; from another namespace MPI_Init fails with
// "OPAL ERROR: Unreachable in file ext3x_client.c".
//
// Skipped with a message where mpirun, root, network namespaces or the fixtures are missing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/fixtures.h"
#include "common/mpi_run.h"
#include "common/run_binary.h"

namespace pagoda::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

#ifdef PAGODA_SANITIZED
constexpr int kMpiTimeoutS = 300;
#else
constexpr int kMpiTimeoutS = 120;
#endif

bool have_command(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// Runs a shell command; its exit status (-1 when killed by a signal) and stdout + stderr.
CommandResult shell(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen((cmd + " 2>&1 </dev/null").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int raw = ::pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

// Runs `<prefix> mpirun <mpirun_args> pagoda <args>` with stdout and stderr apart, under a
// timeout so that a wiring problem fails the test instead of hanging it.
CommandResult run_mpirun(const std::string& prefix, const std::string& mpirun_args,
                         const std::string& args) {
  mpi_environment();
  return run_captured("timeout -k 10 " + std::to_string(kMpiTimeoutS) + " " + prefix + " mpirun " + mpirun_args +
                      " '" + PAGODA_BINARY + "' " + args);
}

// The plain single-namespace run (tensor_parallel_test.cpp's run_mpi): shared memory between ranks.
CommandResult run_one_host(const std::string& args) {
  return run_mpirun("", "-np 2 --oversubscribe", args);
}

constexpr const char* kPrefix = "pagoda_h2_";

// The pid in one of our names (pagoda_h2_<pid>_...), 0 if none.
pid_t owner(const std::string& name) {
  if (!name.starts_with(kPrefix)) return 0;
  return static_cast<pid_t>(std::atoi(name.c_str() + std::string(kPrefix).size()));
}
bool dead(pid_t pid) {
  return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
}

// Removes what an earlier run of this test left behind when it was killed before its destructors
// ran (ctest's timeout): namespaces and temporary files named pagoda_h2_<pid>_... of a dead pid.
void remove_stale_leftovers() {
  std::istringstream list(shell("ip netns list").out);
  std::string line;
  while (std::getline(list, line)) {
    const std::string name = line.substr(0, line.find(' '));
    if (dead(owner(name))) shell("ip netns del " + name);
  }
  try {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::temp_directory_path()))
      if (dead(owner(e.path().filename().string()))) fs::remove_all(e.path(), ec);
  } catch (const fs::filesystem_error&) {
    // Best effort: another test may be creating or removing files there meanwhile.
  }
}

// Two network namespaces ("hosts") A and B joined by a veth pair, A = 10.x.y.1/30 and
// B = 10.x.y.2/30, each with its loopback up; removed in the destructor, also when a test fails.
// Names carry the pid and a counter, so parallel ctest runs never collide. The veth is created
// inside A with its peer directly in B, so its ends never appear in the root namespace and need no
// unique names; the addresses exist only inside the pair, so they cannot clash either (the
// pid-derived subnet is only there to tell runs apart in logs).
class TwoHosts {
 public:
  TwoHosts() {
    static int counter = 0;
    const int pid = static_cast<int>(::getpid()), n = counter++;
    const std::string id = std::to_string(pid) + "_" + std::to_string(n);
    ns_a = kPrefix + id + "_a";
    ns_b = kPrefix + id + "_b";
    const std::string net =
        "10." + std::to_string(64 + pid % 128) + "." + std::to_string((pid / 128 + n) % 256);
    addr_a = net + ".1";
    addr_b = net + ".2";
    subnet = net + ".0/30";
    dir = fs::temp_directory_path() / (kPrefix + id);
  }
  TwoHosts(const TwoHosts&) = delete;
  TwoHosts& operator=(const TwoHosts&) = delete;
  ~TwoHosts() {
    // Deleting a namespace destroys the veth end in it, and with it the peer.
    shell("ip netns del " + ns_a);
    shell("ip netns del " + ns_b);
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // Empty on success, else what failed (the caller skips: no CAP_SYS_ADMIN, no veth driver...).
  std::string create() {
    remove_stale_leftovers();
    const std::vector<std::string> steps = {
        "ip netns add " + ns_a,
        "ip netns add " + ns_b,
        "ip -n " + ns_a + " link add " + kIfA + " type veth peer name " + kIfB + " netns " + ns_b,
        "ip -n " + ns_a + " addr add " + addr_a + "/30 dev " + kIfA,
        "ip -n " + ns_b + " addr add " + addr_b + "/30 dev " + kIfB,
        "ip -n " + ns_a + " link set lo up",
        "ip -n " + ns_b + " link set lo up",
        "ip -n " + ns_a + " link set " + kIfA + " up",
        "ip -n " + ns_b + " link set " + kIfB + " up",
    };
    for (const std::string& step : steps) {
      const CommandResult r = shell(step);
      if (r.status != 0) {
        std::string why = r.out;
        while (!why.empty() && std::isspace(static_cast<unsigned char>(why.back()))) why.pop_back();
        return "`" + step + "` failed: " + why;
      }
    }
    fs::create_directories(dir);
    // Rank 0 on A, rank 1 on B.
    std::ofstream(dir / "hostfile") << addr_a << " slots=1\n" << addr_b << " slots=1\n";
    // OpenMPI calls the agent as it would call ssh: `agent <host> <words of the orted command>`,
    // words that ssh would join with spaces and hand to the remote shell. Same here, inside the
    // namespace that owns the address.
    const fs::path agent = dir / "netns_agent.sh";
    std::ofstream(agent) << "#!/bin/sh\n"
                         << "case \"$1\" in\n"
                         << "  " << addr_a << ") ns=" << ns_a << " ;;\n"
                         << "  " << addr_b << ") ns=" << ns_b << " ;;\n"
                         << "  *) echo \"netns_agent: unknown host $1\" >&2; exit 1 ;;\n"
                         << "esac\n"
                         << "shift\n"
                         << "exec ip netns exec \"$ns\" sh -c \"$*\"\n";
    fs::permissions(agent, fs::perms::owner_all);
    return "";
  }

  // Runs `pagoda <args>` as a two-rank job, rank 0 in A and rank 1 in B, over TCP on the veth.
  CommandResult run(const std::string& args) const {
    const std::string mca = "--hostfile '" + (dir / "hostfile").string() + "' -np 2" +
                            " --mca plm rsh --mca plm_rsh_agent '" +
                            (dir / "netns_agent.sh").string() + "'" + " --mca oob_tcp_if_include " +
                            subnet + " --mca pml ob1 --mca btl self,tcp --mca btl_tcp_if_include " +
                            subnet;
    return run_mpirun("ip netns exec " + ns_a, mca, args);
  }

  struct Counters {
    uint64_t rx_bytes = 0, tx_bytes = 0, rx_packets = 0, tx_packets = 0;
  };
  // B's end of the veth: what it received from A and sent to A.
  Counters counters() const {
    const CommandResult r = shell("ip -n " + ns_b + " -j -s link show dev " + kIfB);
    Counters c;
    if (r.status != 0) {
      ADD_FAILURE() << "ip -s link: " << r.out;
      return c;
    }
    const json j = json::parse(r.out);
    const json& s = j.at(0).at("stats64");
    c.rx_bytes = s["rx"]["bytes"].get<uint64_t>();
    c.tx_bytes = s["tx"]["bytes"].get<uint64_t>();
    c.rx_packets = s["rx"]["packets"].get<uint64_t>();
    c.tx_packets = s["tx"]["packets"].get<uint64_t>();
    return c;
  }

  static constexpr const char* kIfA = "pgveth_a";
  static constexpr const char* kIfB = "pgveth_b";
  std::string ns_a, ns_b, addr_a, addr_b, subnet;
  fs::path dir;
};

#define REQUIRE_TWO_HOSTS_PREREQUISITES()                                                        \
  do {                                                                                           \
    if (!have_command("mpirun"))                                                                 \
      GTEST_SKIP() << "mpirun not found (apt-get install openmpi-bin): skipped";                 \
    if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root: skipped";               \
    if (!have_command("ip")) GTEST_SKIP() << "ip not found (apt-get install iproute2): skipped"; \
    if (!have_command("timeout")) GTEST_SKIP() << "timeout (coreutils) not found: skipped";      \
  } while (0)

class TwoHostsTp : public ::testing::TestWithParam<std::string> {};

TEST_P(TwoHostsTp, Tp2AcrossNamespacesEqualsOneHost) {
  REQUIRE_TWO_HOSTS_PREREQUISITES();
  PAGODA_REQUIRE_FIXTURE("models/" + GetParam());
  TwoHosts hosts;
  if (const std::string why = hosts.create(); !why.empty())
    GTEST_SKIP()
        << "cannot create two network namespaces joined by a veth pair (needs CAP_SYS_ADMIN "
           "and CAP_NET_ADMIN): "
        << why << ": skipped";

  // Ids below 1000 are in every fixture's vocabulary.
  const std::string args =
      "logits -m '" + fixture("models/" + GetParam()) +
      "' --ids 1,15,11,995,0,314,716,257,329,286,110,13,383 --top 32 -t 1 -tp 2";
  const TwoHosts::Counters before = hosts.counters();
  const CommandResult two = hosts.run(args);
  const TwoHosts::Counters after = hosts.counters();
  ASSERT_EQ(two.status, 0) << two.err;
  const CommandResult one = run_one_host(args);
  ASSERT_EQ(one.status, 0) << one.err;

  // One line per position, and the same bytes (the printed floats round-trip: same bits).
  EXPECT_EQ(std::count(two.out.begin(), two.out.end(), '\n'), 13) << two.out;
  EXPECT_EQ(two.out, one.out);

  // The ranks talked over the veth, both ways, well beyond the job's wiring (a two-rank job that
  // only starts, meets at a barrier and ends moves about 4 KB each way): each layer gathers the
  // 13 positions' activations both ways (39 KB A -> B for qwen2-gpt2-f16, 127 KB for
  // llama-spm-q4_k_m), and rank 1 sends its half of every position's logits to rank 0
  // (13 x vocab / 2 floats: 1.3 MB and 0.96 MB).
  const uint64_t rx = after.rx_bytes - before.rx_bytes, tx = after.tx_bytes - before.tx_bytes;
  EXPECT_GT(after.rx_packets, before.rx_packets);
  EXPECT_GT(after.tx_packets, before.tx_packets);
  EXPECT_GT(rx, 16u << 10) << "bytes A -> B over the veth";
  EXPECT_GT(tx, 256u << 10) << "bytes B -> A over the veth";
  std::cout << "[ two hosts] " << GetParam() << ": " << rx << " bytes A -> B, " << tx
            << " bytes B -> A over the veth\n";
}

// A float model and a k-quant one (the two weight paths of the row-split matmuls).
INSTANTIATE_TEST_SUITE_P(Fixtures, TwoHostsTp,
                         ::testing::Values("qwen2-gpt2-f16.gguf", "llama-spm-q4_k_m.gguf"),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.find(".gguf"));
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace pagoda::test
