//go:build !unix

package worker_test

const signalWorkerEnv = "QLESS_WORKER_TEST_SIGNALS"

func runSignalWorker() int { return 2 }
