"""keepalived's BFD child: RFC 5880 sessions over RFC 5881 UDP (imported only when configured)."""
