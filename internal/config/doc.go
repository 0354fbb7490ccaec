// Package config holds the gateway's configuration: one Config value with
// every default in one place (Default), loading from environment variables
// (Load), the accounts file, and cross-field validation (Validate).
//
// Every environment variable the gateway reads is declared once, in the
// variables table of vars.go; Load, Validate and Print all derive from it,
// so the documentation test can compare the documented table with exactly
// what Load reads.
//
// An invalid value yields a *FieldError whose message is one line naming the
// variable and what is wrong, e.g.
//
//	config: SMPP_PORT: "abc" is not a port number
package config
