package smpp

import "net/netip"

// prefixContains reports whether ip is in n, whichever way either is
// written: an IPv4 client may arrive as an IPv4-mapped IPv6 address
// (::ffff:192.0.2.7) on a dual-stack listener, and an allowed network may
// be written that way too (::ffff:192.0.2.0/120).
func prefixContains(n netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	if n.Contains(ip) {
		return true
	}
	return ip.Is4() && n.Addr().Is6() && n.Contains(netip.AddrFrom16(ip.As16()))
}
