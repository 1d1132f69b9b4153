package httpapi

// Patterns returns the route patterns the server registered, in order.
func (s *Server) Patterns() []string { return s.patterns }
