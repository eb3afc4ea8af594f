// Package proccpu reads the CPU time this process has used, for the
// router's INFO (used_cpu_user, used_cpu_sys, as Redis reports its own) and
// for the bench's accounting of its load generator.
package proccpu

import "time"

// Used returns the user and system CPU time of this process so far, all
// threads included. ok is false where the platform cannot tell.
func Used() (user, sys time.Duration, ok bool) { return used() }
