"""OpenPGP below trust: packet framing, armor, packet facts and the engine adapter."""
