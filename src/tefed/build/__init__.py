"""From a scenario to a federation file: the household table, the feeder, each federate's
HELICS block and typed configuration; ``validate`` reports every problem at once."""
