// Package readfile reads the small configuration files the gateway loads
// at start and again on every reload (SMPP_ACCOUNTS_FILE, HLR_RULES_FILE):
// only regular files, and only up to a size bound, so that a reload can
// neither block on a FIFO nor fill the memory from a device or a runaway
// file while the gateway is serving.
package readfile
