//go:build !linux

package httpapi

import "errors"

// diskSpace is not measured on this system.
func diskSpace(path string) (free, total uint64, err error) {
	return 0, 0, errors.New("disk space is measured on Linux only")
}

// systemMemory is not known on this system.
func systemMemory() (available, total uint64) { return 0, 0 }
