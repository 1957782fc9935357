"""The run configuration: values, parsing, validation, the builder and presets."""
