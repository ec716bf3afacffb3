"""The core of the tracker: settings, domain rules, adapters, API, CLI, runtime."""
