//! exabgp (todo)
