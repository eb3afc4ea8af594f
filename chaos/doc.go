//go:build chaos

// Package chaos runs a qless-router cluster in Docker containers (three
// Redis shards and three routers on a network of its own, built with
// testcontainers-go from the images of deploy/build-images.sh), drives load
// through it with the project's client and worker libraries, kills routers
// and shards while the load runs, and then proves the guarantees of
// DESIGN.md section 4: every job put is found exactly once across the
// shards, complete, in the queue it should be in.
//
// It is behind the build tag chaos: run it with `make chaos-short` or
// `make chaos` (see docs/docker.md).
package chaos
