/*
 * craft/common.h: export macro, error codes, version queries and the
 * allocator hook. Include <craft.h> rather than this file.
 */
#ifndef CRAFT_COMMON_H
#define CRAFT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define CRAFT_BEGIN_DECLS extern "C" {
#define CRAFT_END_DECLS }
#else
#define CRAFT_BEGIN_DECLS
#define CRAFT_END_DECLS
#endif

/* The library is built with -fvisibility=hidden; only CRAFT_API names are
 * exported (and the linker version script pins them to CRAFT_1.0). */
#if defined(CRAFT_BUILDING) && defined(__GNUC__)
#define CRAFT_API __attribute__((visibility("default")))
#else
#define CRAFT_API
#endif

CRAFT_BEGIN_DECLS

/*
 * Error codes. Fixed values; a retired code is never reused.
 * Every fallible function returns CRAFT_OK or one of these.
 */
enum craft_error {
    CRAFT_OK = 0,
    CRAFT_EINVAL = -1,       /* an argument is NULL, zero or out of range */
    CRAFT_ENOMEM = -2,       /* an allocation failed; nothing changed */
    CRAFT_ESTRUCT = -3,      /* struct_size is zero or larger than known */
    CRAFT_EMALFORMED = -4,   /* bytes do not decode: bad length or field */
    CRAFT_ECHECKSUM = -5,    /* bytes decode but their CRC32C is wrong */
    CRAFT_EVERSION = -6,     /* a format version this build does not know */
    CRAFT_ETOOBIG = -7,      /* a buffer or count exceeds a limit */
    CRAFT_ENOTLEADER = -8,   /* only a leader can do this; see leader hint */
    CRAFT_EUNKNOWNPEER = -9, /* the peer id is not in the membership */
    CRAFT_ESHUTDOWN = -10,   /* the handle is shut down */
    CRAFT_EBUSY = -11,       /* another change or transfer is in progress */
    CRAFT_ETIMEDOUT = -12,   /* a deadline passed */
    CRAFT_ELOST = -13,       /* the proposal's index was overwritten */
    CRAFT_ESTEPPEDDOWN = -14, /* leadership was lost while waiting */
    CRAFT_ENOTREADY = -15,   /* the leader has not committed in its term */
    CRAFT_ECALLBACK = -16,   /* a user callback returned an error */
    CRAFT_ESTATE = -17,      /* the call is not valid in the current state */
    CRAFT_EIO = -18,         /* storage or transport failed */
    CRAFT_ECORRUPT = -19,    /* persisted state contradicts itself */
    CRAFT_EEXIST = -20,      /* the thing already exists */
    CRAFT_ENOENT = -21,      /* the thing does not exist */
    CRAFT_ECANCELED = -22    /* canceled, e.g. by shutdown */
};

/*
 * A static English description of an error code ("CRAFT_EINVAL: invalid
 * argument"). Never NULL; unknown codes get "unknown error".
 * Thread-safe. The string is owned by the library and lives forever.
 */
CRAFT_API const char *craft_strerror(int code);

/*
 * Version of the loaded library, to compare at run time with the
 * CRAFT_VERSION_* macros a binding was built against.
 * craft_version() returns CRAFT_VERSION_NUMBER of the library and, when
 * the pointers are not NULL, its major, minor and patch numbers.
 * craft_version_string() returns CRAFT_VERSION_STRING of the library.
 * craft_abi_version() returns the library's CRAFT_ABI_VERSION.
 * All thread-safe.
 */
CRAFT_API int craft_version(int *major, int *minor, int *patch);
CRAFT_API const char *craft_version_string(void);
CRAFT_API int craft_abi_version(void);

/*
 * Allocator hook. craft has no global state, so the hook is per handle:
 * pass one in a handle's options and every allocation that handle makes
 * goes through it. NULL means malloc/realloc/free.
 *
 * malloc(user, size) and realloc(user, ptr, size) return NULL on failure;
 * craft then returns CRAFT_ENOMEM and leaves the handle as it was.
 * free(user, NULL) must be harmless. The functions may be called from any
 * thread that uses the handle (the driver and apply threads of a node),
 * so they must be thread-safe if the handle is a node.
 * The struct is copied at create time; it need not outlive the call.
 */
typedef struct craft_allocator {
    uint32_t struct_size; /* sizeof(craft_allocator) */
    void *user;
    void *(*malloc)(void *user, size_t size);
    void *(*realloc)(void *user, void *ptr, size_t size);
    void (*free)(void *user, void *ptr);
} craft_allocator;

#define CRAFT_ALLOCATOR_INIT                                                  \
    { (uint32_t)sizeof(craft_allocator), NULL, NULL, NULL, NULL }

/* Fills *a like CRAFT_ALLOCATOR_INIT. Returns CRAFT_EINVAL on NULL. */
CRAFT_API int craft_allocator_init(craft_allocator *a);

/* A borrowed byte buffer: used to pass many payloads in one call. */
typedef struct craft_buf {
    const void *base;
    size_t len;
} craft_buf;

/* Node identifiers are non-zero 64-bit integers chosen by the user;
 * 0 means "none" (no vote, no known leader). */
#define CRAFT_NONE ((uint64_t)0)

CRAFT_END_DECLS

#endif /* CRAFT_COMMON_H */
