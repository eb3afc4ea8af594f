//go:build !unix

package proccpu

import "time"

func used() (user, sys time.Duration, ok bool) { return 0, 0, false }
