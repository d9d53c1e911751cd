"""Reading and writing the outside world: profile, weather and price files, run folders,
feeder generators (written as OpenDSS text), the DLMP market's network file, OpenDSS itself
(the only code that imports opendssdirect) and the HiGHS solver behind the domain's
`tefed.domain.persistent_solver` interface."""
