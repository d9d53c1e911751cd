"""The feeder as a graph: bus distances and topology, and the radial LinDistFlow model the
DLMP market clears on."""
