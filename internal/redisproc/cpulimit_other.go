//go:build !linux

package redisproc

import "errors"

// LimitCPU is only available on Linux (cgroups).
func (s *Server) LimitCPU(fraction float64) (undo func() error, err error) {
	return nil, errors.New("redisproc: LimitCPU needs Linux cgroups")
}
