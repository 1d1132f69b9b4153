//go:build !unix

package sdk

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
