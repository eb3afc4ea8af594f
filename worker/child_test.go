package worker_test

func runTestChild() int { return 0 }
