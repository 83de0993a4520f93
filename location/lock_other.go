//go:build !unix

package location

import "os"

// lockFile does nothing where flock(2) is missing: two servers must not
// be given one data directory.
func lockFile(*os.File) error { return nil }
