"""The event contract: topic names and the pydantic model of every event.

Each producer owns one module (intake, classifier, dispatcher, departments, notifier); consumers import
them and never redefine an event. Changes are additive; a breaking change raises `schema_version`.
"""
