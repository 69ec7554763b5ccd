"""Where distributions come from: simple indexes, local folders and signature stores."""
