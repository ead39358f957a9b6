package craft

/*
#cgo pkg-config: craft
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"sync/atomic"
)

// liveHandles counts the cgo.Handles this package holds, so that tests can
// prove that Close leaks none.
var liveHandles atomic.Int64

func newHandle(v any) cgo.Handle {
	liveHandles.Add(1)
	return cgo.NewHandle(v)
}

func deleteHandle(h cgo.Handle) {
	h.Delete()
	liveHandles.Add(-1)
}

// Version returns the version string of the loaded libcraft ("0.1.0").
func Version() string { return C.GoString(C.craft_version_string()) }

// VersionNumbers returns the loaded library's major, minor and patch
// numbers.
func VersionNumbers() (major, minor, patch int) {
	var a, b, c C.int
	C.craft_version(&a, &b, &c)
	return int(a), int(b), int(c)
}

// CheckVersion reports whether the loaded libcraft has the ABI this
// package was compiled against (NewNode calls it).
func CheckVersion() error {
	if got := int(C.craft_abi_version()); got != C.CRAFT_ABI_VERSION {
		return fmt.Errorf("craft: loaded libcraft has ABI %d, this package was built for ABI %d", got, C.CRAFT_ABI_VERSION)
	}
	return nil
}
