"""tefed's benchmarks (``make bench``): speed and overhead figures, written to results/bench/.

Benchmarks are not tests: they measure and compare with named targets, and never fail a build.
"""
