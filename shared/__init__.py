"""CityLine's own library: the event contract, settings, broker and store setup, metrics and logging."""
