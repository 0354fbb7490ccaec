// Package redistest gives tests a real Redis: REDIS_TEST_URL if
// set, else redis://127.0.0.1:6379/15 if it answers a PING, else the test is
// skipped with a line saying how to enable it. [Cluster] starts a Cluster
// of the test's own from redis-server processes, whose masters a test can
// freeze ([ClusterMaster.Pause]).
package redistest
