// `coordexp train --nproc N`: starts N data-parallel workers on this machine (this program again, with the
// same arguments minus --nproc, and RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT set as
// torchrun sets them) and supervises them: when one fails, the others get a grace period to stop on their
// own (a closed connection fails their next collective; a hung rendezvous waits for its timeout), then
// SIGTERM.
#pragma once

namespace coordexp::cli {

// Returns the exit status for the launcher: 0 when every worker exited 0.
int run_local_workers(int nproc, int grace_seconds);

}  // namespace coordexp::cli
