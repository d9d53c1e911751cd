"""Reading and writing the outside world: profile, weather and price files, run folders,
feeder generators (written as OpenDSS text), and OpenDSS itself (the only code that imports
opendssdirect)."""
