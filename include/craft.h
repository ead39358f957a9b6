/*
 * craft: a Raft consensus library.
 *
 * This is the umbrella header: include it and nothing else. It pulls in
 * the topic headers under craft/ in dependency order.
 *
 * Conventions that hold for every declaration below (see README.md):
 *
 *  - Every public name starts with craft_ / CRAFT_.
 *  - Handles are opaque. They are created by a function that writes them
 *    through an out-parameter and released by the matching craft_*_free().
 *  - Every fallible function returns int: CRAFT_OK (0) or a negative
 *    CRAFT_E* code. Codes have fixed values and are never reused.
 *  - Structs the caller fills in start with uint32_t struct_size and come
 *    with an init function and an init macro that produce identical bytes.
 *    A newer library accepts an older caller's smaller struct and uses
 *    defaults for the fields the caller did not know about.
 *  - Bytes handed to the library are copied before the call returns unless
 *    the function's doc says otherwise. Bytes the library hands out are
 *    borrowed: the doc says how long they stay valid.
 *  - Nothing is thread-safe unless its doc says so.
 */
#ifndef CRAFT_H
#define CRAFT_H

/* The version is defined here and only here; the Makefile reads it. */
#define CRAFT_VERSION_MAJOR 0
#define CRAFT_VERSION_MINOR 1
#define CRAFT_VERSION_PATCH 0
#define CRAFT_VERSION_STRING "0.1.0"
/* Bumped on every ABI break; it is the SONAME's number (libcraft.so.1). */
#define CRAFT_ABI_VERSION 1

#define CRAFT_VERSION_NUMBER                                                  \
    ((CRAFT_VERSION_MAJOR * 10000) + (CRAFT_VERSION_MINOR * 100) +            \
     CRAFT_VERSION_PATCH)

#include "craft/common.h"
#include "craft/engine.h"
#include "craft/node.h"
#include "craft/storage.h"
#include "craft/testing.h" /* in-memory storage, in-process hub */
#include "craft/tcp.h"

#endif /* CRAFT_H */
