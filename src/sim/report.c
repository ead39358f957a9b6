/*
 * sim/report.c: the words a failed run ends with: what was violated,
 * where, and the exact command that replays it.
 */
#include <inttypes.h>

#include "sim/sim.h"

void sim_report_violation(FILE *f, const char *argv0,
                          const struct sim_options *o,
                          const struct sim_result *r)
{
    char spec[1024];
    sim_replay_spec(o, spec, sizeof(spec));
    fprintf(f,
            "VIOLATION of %s at step %" PRIu64 " of seed 0x%" PRIx64
            " (profile %s, %u nodes):\n  %s\n",
            sim_check_name(r->check), r->violation_step, o->seed,
            o->profile != NULL ? o->profile : "default", o->nodes,
            r->message);
    fprintf(f, "replay: %s --replay '%s'\n", argv0, spec);
    fprintf(f, "trace:  %s --replay '%s' --trace trace.txt\n", argv0, spec);
}
