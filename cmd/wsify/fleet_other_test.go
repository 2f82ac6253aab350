//go:build !linux

package main

// The fleet's epoll loop is Linux's; elsewhere the load test does not run.
const fleetEnv = "WSIFY_TEST_FLEET"

func fleetMain() int { return 2 }
