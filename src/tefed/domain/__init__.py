"""Pure domain models: market mechanisms, settlement and ledger; household devices and
strategies; the radial network model and feeder topology; tariffs and price sources; grid
metrics; the check that a time index is regular. Arrays and data frames in, arrays and data
frames out: no HELICS, no OpenDSS, no file I/O, so every function can be tested with
hand-computed values. Optimization models are declared in Pyomo and solved through the
`persistent_solver` interface; no solver is imported here."""
