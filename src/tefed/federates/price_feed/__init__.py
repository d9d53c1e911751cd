"""Price feed federate: wholesale, retail import and export prices and their forecasts."""
