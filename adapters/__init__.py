"""Adapters: what runs and chains packaged services from outside them.

- `adapters.client`: the one small typed REST client of a geoprocessing-api service.
- `adapters.pipeline`: the pipeline spec (YAML): loading, static checks, `${...}` expressions.
- `adapters.local`: the embedded runner that runs a pipeline on one machine.
- `adapters.conductor`, `adapters.airflow`: generators and workers for the orchestrators.

Adapters reach services only over REST (through `adapters.client`), never by importing the
runtime's internals; the packager may import adapters, never the reverse.
"""
