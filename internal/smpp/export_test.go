package smpp

// OpenSessionsForTest returns the open sessions.
func (srv *Server) OpenSessionsForTest() []*Session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make([]*Session, 0, len(srv.sessions))
	for s := range srv.sessions {
		out = append(out, s)
	}
	return out
}

// OutputBytesForTest is the session's output buffer: queued plus being written.
func (s *Session) OutputBytesForTest() int64 { return s.outBytes.Load() }

// LegacyForTest reports whether the session sends no TLVs.
func (s *Session) LegacyForTest() bool { return s.legacy.Load() }
