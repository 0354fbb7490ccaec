// Package redistest gives tests a real Redis: REDIS_TEST_URL if
// set, else redis://127.0.0.1:6379/15 if it answers a PING, else the test is
// skipped with a line saying how to enable it.
package redistest
