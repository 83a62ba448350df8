"""Adapters: what runs and chains packaged services from outside them.

- `pesto_factory.adapters.client`: the one small typed REST client of a geoprocessing-api service.
- `pesto_factory.adapters.pipeline`: the pipeline spec (YAML): loading, static checks, `${...}` expressions.
- `pesto_factory.adapters.local`: the embedded runner that runs a pipeline on one machine.
- `pesto_factory.adapters.conductor`, `pesto_factory.adapters.airflow`: generators and workers for the orchestrators.

Adapters reach services only over REST (through `pesto_factory.adapters.client`), never by importing the
runtime's internals; the packager may import adapters, never the reverse.
"""
