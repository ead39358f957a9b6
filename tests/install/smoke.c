/*
 * tests/install/smoke.c: a program built against an installed craft
 * (through pkg-config) the way a user would build one. Run by
 * tests/install/run.sh, linked once against libcraft.so and once
 * statically against libcraft.a.
 */
#include <craft.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    int major = -1, minor = -1, patch = -1;
    int number = craft_version(&major, &minor, &patch);
    craft_engine_options opts;
    int rc;

    if (number != CRAFT_VERSION_NUMBER || major != CRAFT_VERSION_MAJOR ||
        minor != CRAFT_VERSION_MINOR || patch != CRAFT_VERSION_PATCH) {
        fprintf(stderr, "smoke: library %d.%d.%d (%d), header %s\n", major,
                minor, patch, number, CRAFT_VERSION_STRING);
        return 1;
    }
    if (strcmp(craft_version_string(), CRAFT_VERSION_STRING) != 0 ||
        craft_abi_version() != CRAFT_ABI_VERSION) {
        fprintf(stderr, "smoke: version string or ABI version differs\n");
        return 1;
    }
    if (strstr(craft_strerror(CRAFT_EINVAL), "CRAFT_EINVAL") == NULL) {
        fprintf(stderr, "smoke: craft_strerror(CRAFT_EINVAL) = \"%s\"\n",
                craft_strerror(CRAFT_EINVAL));
        return 1;
    }
    rc = craft_engine_options_init(&opts);
    if (rc != CRAFT_OK || opts.struct_size != sizeof(opts)) {
        fprintf(stderr, "smoke: craft_engine_options_init: %s\n",
                craft_strerror(rc));
        return 1;
    }
    printf("smoke: craft %s (ABI %d) OK\n", craft_version_string(),
           craft_abi_version());
    return 0;
}
