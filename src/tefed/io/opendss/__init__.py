"""OpenDSS through opendssdirect.py: compiling a feeder (``model``), the power flow
(``engine``) and the branch table for network-aware markets (``network_extraction``)."""
