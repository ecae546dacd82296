"""Issue 16: the holes an outside security probe found, one test module per hole."""
