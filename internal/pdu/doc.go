// Package pdu is a pure SMPP v3.4 codec: bytes in, structs out, and back.
// It does no I/O, no logging and keeps no global state. Lengths are checked
// before anything is allocated, field limits of the specification are
// enforced on decode, and error responses are encoded as the bare header.
package pdu
