package pdu

// AppendTLV appends one optional parameter in wire form to dst. Building a
// PDU's parameters (and its text) in one buffer and converting that to a
// string once costs a single allocation, where a chain of TLVs.With calls
// costs one per parameter. value must be at most 65535 octets.
func AppendTLV(dst []byte, tag Tag, value string) []byte {
	dst = append(dst, byte(tag>>8), byte(tag), byte(len(value)>>8), byte(len(value)))
	return append(dst, value...)
}

// AppendTLVUint8 appends a one-octet parameter.
func AppendTLVUint8(dst []byte, tag Tag, v uint8) []byte {
	return append(dst, byte(tag>>8), byte(tag), 0, 1, v)
}

// AppendTLVUint16 appends a two-octet big-endian parameter.
func AppendTLVUint16(dst []byte, tag Tag, v uint16) []byte {
	return append(dst, byte(tag>>8), byte(tag), 0, 2, byte(v>>8), byte(v))
}

// AppendTLVCString appends a NUL-terminated string parameter, such as
// receipted_message_id.
func AppendTLVCString(dst []byte, tag Tag, v string) []byte {
	n := len(v) + 1
	dst = append(dst, byte(tag>>8), byte(tag), byte(n>>8), byte(n))
	dst = append(dst, v...)
	return append(dst, 0)
}
