/*
 * util/strerror.c: names for the error codes of craft/common.h.
 *
 * Codes have fixed values and a retired code is never reused, so a
 * retired code keeps its entry here (its text says it is retired).
 */
#include "craft.h"

const char *craft_strerror(int code)
{
    switch (code) {
    case CRAFT_OK:
        return "CRAFT_OK: success";
    case CRAFT_EINVAL:
        return "CRAFT_EINVAL: invalid argument";
    case CRAFT_ENOMEM:
        return "CRAFT_ENOMEM: out of memory";
    case CRAFT_ESTRUCT:
        return "CRAFT_ESTRUCT: struct_size is zero or larger than known";
    case CRAFT_EMALFORMED:
        return "CRAFT_EMALFORMED: malformed bytes";
    case CRAFT_ECHECKSUM:
        return "CRAFT_ECHECKSUM: checksum mismatch";
    case CRAFT_EVERSION:
        return "CRAFT_EVERSION: unknown format version";
    case CRAFT_ETOOBIG:
        return "CRAFT_ETOOBIG: size or count exceeds a limit";
    case CRAFT_ENOTLEADER:
        return "CRAFT_ENOTLEADER: not the leader";
    case CRAFT_EUNKNOWNPEER:
        return "CRAFT_EUNKNOWNPEER: peer is not a member";
    case CRAFT_ESHUTDOWN:
        return "CRAFT_ESHUTDOWN: handle is shut down";
    case CRAFT_EBUSY:
        return "CRAFT_EBUSY: another change is in progress";
    case CRAFT_ETIMEDOUT:
        return "CRAFT_ETIMEDOUT: timed out";
    case CRAFT_ELOST:
        return "CRAFT_ELOST: entry was overwritten";
    case CRAFT_ESTEPPEDDOWN:
        return "CRAFT_ESTEPPEDDOWN: leadership lost";
    case CRAFT_ENOTREADY:
        return "CRAFT_ENOTREADY: leader has not committed in its term";
    case CRAFT_ECALLBACK:
        return "CRAFT_ECALLBACK: a user callback failed";
    case CRAFT_ESTATE:
        return "CRAFT_ESTATE: not valid in the current state";
    case CRAFT_EIO:
        return "CRAFT_EIO: I/O error";
    case CRAFT_ECORRUPT:
        return "CRAFT_ECORRUPT: persisted state is corrupt";
    case CRAFT_EEXIST:
        return "CRAFT_EEXIST: already exists";
    case CRAFT_ENOENT:
        return "CRAFT_ENOENT: does not exist";
    case CRAFT_ECANCELED:
        return "CRAFT_ECANCELED: canceled";
    default:
        return "unknown error";
    }
}
