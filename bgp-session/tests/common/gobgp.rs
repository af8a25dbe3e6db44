//! gobgp (todo)
