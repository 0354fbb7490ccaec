// Package benchcpu helps benchmarks report the CPU time of an operation
// (cpu-ns/op) beside its wall time: on a shared machine the wall time of
// a parallel benchmark also counts the time its goroutines waited for a
// CPU, and the CPU time does not. Only tests import it.
package benchcpu
