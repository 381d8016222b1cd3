"""CityLine's command line and the embedded stack it starts."""
