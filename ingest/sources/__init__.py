"""Pure readers: bytes or decoded records in, normalised rows out. No I/O decisions here."""
