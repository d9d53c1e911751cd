"""The contract between federates: interface keys, message models, the federation file, the
time grid, how households are sharded, each role's typed configuration and declared interfaces,
the logic interface a federate implements, and input errors. Everything else builds on it; it
imports nothing else of tefed."""
