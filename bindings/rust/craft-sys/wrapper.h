/* What bindgen reads: the public API of libcraft (the umbrella header)
 * plus the test batteries of craft/testing.h, which the umbrella leaves
 * out. */
#include <craft.h>
#include <craft/testing.h>
