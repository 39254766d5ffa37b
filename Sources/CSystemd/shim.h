#ifndef SRE_DIAGNOSE_CSYSTEMD_SHIM_H
#define SRE_DIAGNOSE_CSYSTEMD_SHIM_H

// Location fields (CODE_FILE, CODE_LINE) are supplied by the Swift log handler from the
// Swift call site, so the header's C-location macros are switched off.
#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#endif
